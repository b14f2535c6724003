"""Emu3 (BAAI) through transformers' `Emu3ForConditionalGeneration`; see backend.py."""
