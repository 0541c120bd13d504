"""RADIUS door (RFC 2865/2866, Cisco VoIP VSAs): authorization on PORT, accounting on
PORT+1, over the charging service. See ``docs/integrations/radius.md``."""

from voxbill.protocols.radius.background import RadiusThread, radius_server
from voxbill.protocols.radius.clients import RadiusClients
from voxbill.protocols.radius.codec import dictionary
from voxbill.protocols.radius.server import RadiusServer

__all__ = ["RadiusClients", "RadiusServer", "RadiusThread", "dictionary", "radius_server"]
