"""The client's side of the wire: one typed method per endpoint of ``shared.protocol``."""

from outreach_app.sync.transport import SyncApi

__all__ = ["SyncApi"]
