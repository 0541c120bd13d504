"""Use cases: each service owns its transactions through the unit of work."""
