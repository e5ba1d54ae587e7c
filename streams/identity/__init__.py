"""Identity resolution: which customer an event belongs to (see `streams.identity.graph`)."""

from streams.identity.graph import IdentityGraph, Resolution
from streams.identity.messages import IdentityUpdate

__all__ = ["IdentityGraph", "IdentityUpdate", "Resolution"]
