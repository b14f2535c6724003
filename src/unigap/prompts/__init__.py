"""Prompt suites (ShapeWorld, GenEval, T2I-CompBench, Science-T2I, custom files) by short name."""
