"""Hot caches that outlive a test.

Tests that count which requests a fast lane answers (it answers from warm caches only)
build their containers with these caches, so that a busy machine's pause between warming
a key and using it (longer than the default 2 s under load) never changes the count.
"""

from __future__ import annotations

LONG_CACHE_SECONDS = 60
