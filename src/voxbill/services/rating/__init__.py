"""Rating: stored rate plans per operator, deck imports with their change records, the
catalog callers read plans through, and quotes (plans cached in memory by version)."""
