"""`model.name: served`: a unified model behind OpenAI-compatible HTTP endpoints (see backend.py)."""
