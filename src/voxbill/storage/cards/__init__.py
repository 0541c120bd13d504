"""Calling-card batches and cards (``storage/schema/cards.py``)."""
