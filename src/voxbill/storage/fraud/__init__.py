"""The fraud guard's SQL: spend counters, velocity minutes, high-risk prefixes."""
