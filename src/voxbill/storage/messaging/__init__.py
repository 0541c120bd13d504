"""Message records, and the Redis token buckets that share one message rate limit
between nodes."""
