"""Least-cost routing: the vendors that may carry a call, cheapest first, and the
vendors' SIP targets."""
