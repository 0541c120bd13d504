"""The pure domain: no framework, no database, no I/O."""
