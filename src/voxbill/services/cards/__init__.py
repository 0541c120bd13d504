"""Calling cards: batches generated, exported for the printer, activated (funded through
the ledger), and the holder's own view of a card (:mod:`.service`)."""
