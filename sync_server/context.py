"""What every service needs besides a database session: the settings and the server's clock.

The clock is injectable so tests can move time (expired invitations, refresh tokens, tokens)
without sleeping. It returns integer milliseconds since the Unix epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sync_server.settings import ServerSettings

__all__ = ["Clock", "ServerContext", "system_clock_ms"]

Clock = Callable[[], int]


def system_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ServerContext:
    settings: ServerSettings
    clock: Clock = field(default=system_clock_ms)

    def now_ms(self) -> int:
        return self.clock()
