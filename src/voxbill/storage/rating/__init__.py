"""Rate plans, their rates and import records in the database (bulk paths for
million-row decks)."""
