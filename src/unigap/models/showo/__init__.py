"""Show-o (showlab/Show-o): one Phi-1.5 transformer over text and MAGVIT-v2 image tokens.

Our own implementation on transformers' Phi modules; see docs/showo.md for what was checked
against the official code.
"""
