"""Fast lanes for the switches' calls endpoints: the plain case without FastAPI.

``POST /api/v1/calls/authorize``, ``POST /api/v1/calls`` (start) and ``POST
/api/v1/calls/{session_id}/update`` come thousands of times a second; routing,
dependency solving, validation plumbing and the response machinery cost more CPU than
the answer. This pure-ASGI layer answers the plain case itself and passes everything
else to the normal route, the body it has read replayed, so that every other answer
(401, 402, 403, 404, 409, 422, 429, 503, 500, and whatever FastAPI writes for them) is
the route's own.

The plain case is all of:

* POST, no query string, no ``root_path``, ``content-type: application/json`` exactly
  and no ``\\u0000`` escape in the body (the route's NUL check could not refuse it); a
  session id in the path as the route matches it (1 to 200 characters after
  percent-decoding, ``/`` included, no NUL);
* a key that :mod:`voxbill.api.guard`, in front of the lanes, accepted (before the
  body was read: a bad key never reaches a lane), for a role that drives calls
  (:func:`access.check_calls`; :func:`access.check_settle` for update);
* a body the route's own model validates as FastAPI does (``json.loads`` then
  ``validate_python(from_attributes=True)``), without ``at`` or ``vendor_id`` (the
  route's own rules for them) and without a card caller (a PIN is an argon2 hash).

The route's own work (its tenancy checks and the service call, see
:mod:`voxbill.api.routers.calls`) and response run in ONE thread hop, as in the route:
a step reads and writes the database, and a query may wait (a pool checkout, a lock, a
round trip, a rate plan loaded afresh) — never on the event loop; except authorize on
SQLite when it is *warm* (:mod:`voxbill.serving.warm`): its caller, chain and plans cached and
its one read local, it is decided on the event loop, cheaper than a thread hop and
without the GIL hand-overs that made the tail of its latency; whatever would wait (a
cache to load, a plan to check, a pool, a lock) refuses instead, and the same work goes
to a thread. The lanes' threads
are a pool of their own, and few (:data:`~voxbill.api.fast_lane.asgi.THREADS`): fewer
threads contend less for the GIL, and the lanes never take the whole database pool.
Any exception on the way (a refusal such as 402 or 404 included: a step changes
nothing when it raises, and is idempotent by session id), and any request outside the
plain case, hands the request over; the route then answers it as if the lane were not
there (a refused step is thus decided twice: refusals are the rare case).

Each lane must pay for itself: issue 11 measured each on and off (``bench_charging.py
--ab``, five interleaved pairs, server CPU per request) and kept those that save at
least 15 % of it. Stop's lane saved about 11 % and was removed: ``POST
/api/v1/calls/{session_id}/stop`` always goes through its route (docs/benchmarks.md).

``VOXBILL_FAST_LANE=0`` (the setting ``fast_lane``) turns the lanes off.
"""

from __future__ import annotations

from voxbill.api.fast_lane.asgi import THREADS, FastLane, install

__all__ = ["THREADS", "FastLane", "install"]
