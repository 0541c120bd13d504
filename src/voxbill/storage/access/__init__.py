"""The access context's storage: API keys, caller identifiers and portal users
(:mod:`~voxbill.storage.access.api_keys`), card PIN guess counters
(:mod:`~voxbill.storage.access.card_pins`) and the Redis counter of failed API keys
shared by every node (:mod:`~voxbill.storage.access.redis_failures`)."""
