"""Keep the garbage collector's full passes short in a serving process.

CPython's cyclic collector scans every tracked object of the oldest generation in a full
(generation 2) pass, with the GIL held: in a ``voxbill serve`` worker that is the whole
startup heap (FastAPI, Pydantic and SQLAlchemy models, the schema, phone-number metadata,
the container): a pass measured here at 50 to 170 ms in a worker, during which no
request of that process is answered: the tail of every latency percentile. Nothing of
that startup heap ever becomes garbage, so once the process is built it is moved out of
the collector's sight (:func:`gc.freeze`, the practice of large CPython services) and a
full pass scans only what was allocated since. Garbage cycles made later are still
collected; memory is not leaked, because what is frozen is what the process keeps.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect once, then freeze what survives (call when the process is built, before
    serving); returns how many objects are now out of the collector's sight."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("heap settled: %d objects frozen", frozen)
    return frozen
