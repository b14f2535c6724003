"""Janus-Pro backend (`model.name: janus`): transformers' native Janus with our own image decode loop.

Modules: backend (the `UnifiedModel`), decode (static-cache CFG decode loop), graphs (CUDA-graph
capture), loading (checks and dtype), text (prompt formatting), lora (PEFT), synthetic (random
models for tests and benchmarks). Nothing is imported here: transformers loads only when used.
"""
