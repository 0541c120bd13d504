"""The SIP door: a redirect server answering INVITEs with least-cost routes (302)."""

from voxbill.protocols.sip.door import Answer, RedirectDoor
from voxbill.protocols.sip.message import SipParseError, SipRequest, parse_request
from voxbill.protocols.sip.server import SipServer

__all__ = ["Answer", "RedirectDoor", "SipParseError", "SipRequest", "SipServer", "parse_request"]
