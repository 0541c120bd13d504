"""Vendors' SIP targets and the vendor snapshot least-cost routing reads."""
