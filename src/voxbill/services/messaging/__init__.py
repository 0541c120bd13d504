"""Messaging: charging SMS at every level of the sender's chain exactly once, and the
messages-per-second limits checked before any charge."""
