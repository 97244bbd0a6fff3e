"""Hybrid logical clock (Kulkarni et al. 2014).

A stamp is ``(wall_ms, counter, device)``. Its text form sorts like the tuple, so storage can
order versions with a plain string index. The clock never reads the time itself: callers pass
the physical time in, which keeps it pure and lets tests drive wrong phone clocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import ClockError, ClockSkewError

__all__ = [
    "MAX_CLOCK_AHEAD_MS",
    "Hlc",
    "HybridClock",
    "check_not_ahead",
    "check_wall_not_ahead",
    "is_valid_hlc",
    "wall_ms_of",
]

WALL_DIGITS = 15
COUNTER_DIGITS = 6
MAX_COUNTER = 10**COUNTER_DIGITS - 1
# Phones with clocks further ahead of the server than this are told to re-stamp.
MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000

_DEVICE = r"[0-9a-z-]{1,64}"
_DEVICE_PATTERN = re.compile(_DEVICE)  # compiled once: a stamp is checked for every version pushed or pulled
_HLC_PATTERN = re.compile(rf"^(\d{{{WALL_DIGITS}}})\.(\d{{{COUNTER_DIGITS}}})\.({_DEVICE})$")


@dataclass(frozen=True, order=True)
class Hlc:
    """One hybrid logical clock stamp; ordering is by wall time, then counter, then device."""

    wall_ms: int
    counter: int
    device: str

    def __post_init__(self) -> None:
        if not 0 <= self.wall_ms < 10**WALL_DIGITS:
            raise ClockError(f"wall time out of range: {self.wall_ms}")
        if not 0 <= self.counter <= MAX_COUNTER:
            raise ClockError(f"counter out of range: {self.counter}")
        if not _DEVICE_PATTERN.fullmatch(self.device):
            raise ClockError("device id must be 1-64 lower-case letters, digits or dashes")

    def encode(self) -> str:
        return f"{self.wall_ms:0{WALL_DIGITS}d}.{self.counter:0{COUNTER_DIGITS}d}.{self.device}"

    @classmethod
    def parse(cls, text: str) -> Hlc:
        match = _HLC_PATTERN.fullmatch(text)
        if match is None:
            raise ClockError(f"not a clock stamp: {text[:80]!r}")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))

    def __str__(self) -> str:
        return self.encode()


def is_valid_hlc(text: str) -> bool:
    return _HLC_PATTERN.fullmatch(text) is not None


class HybridClock:
    """The clock of one device. Persist ``wall_ms`` and ``counter`` across restarts."""

    def __init__(self, device: str, *, wall_ms: int = 0, counter: int = 0) -> None:
        self.device = device
        self.wall_ms = wall_ms
        self.counter = counter

    def now(self, physical_ms: int) -> Hlc:
        """A stamp for a local event, later than every stamp this clock has issued or seen."""
        if physical_ms > self.wall_ms:
            self.wall_ms, self.counter = physical_ms, 0
        else:
            self._bump()
        return Hlc(self.wall_ms, self.counter, self.device)

    def observe(self, remote: Hlc, physical_ms: int) -> None:
        """Advance past a stamp received from another device, so later edits sort after it."""
        wall = max(self.wall_ms, remote.wall_ms, physical_ms)
        if wall == self.wall_ms and wall == remote.wall_ms:
            counter = max(self.counter, remote.counter)
        elif wall == self.wall_ms:
            counter = self.counter
        elif wall == remote.wall_ms:
            counter = remote.counter
        else:
            counter = -1
        self.wall_ms, self.counter = wall, counter
        if counter >= 0:
            self._bump()
        else:
            self.counter = 0

    def _bump(self) -> None:
        if self.counter >= MAX_COUNTER:
            self.wall_ms, self.counter = self.wall_ms + 1, 0
        else:
            self.counter += 1


def check_not_ahead(stamp: Hlc, reference_ms: int, max_ahead_ms: int = MAX_CLOCK_AHEAD_MS) -> None:
    """Refuse a stamp whose wall time is implausibly far ahead of the reference clock."""
    check_wall_not_ahead(stamp.wall_ms, reference_ms, max_ahead_ms)


def check_wall_not_ahead(wall_ms: int, reference_ms: int, max_ahead_ms: int = MAX_CLOCK_AHEAD_MS) -> None:
    """``check_not_ahead`` for a stamp's wall time alone (see ``wall_ms_of``)."""
    ahead = wall_ms - reference_ms
    if ahead > max_ahead_ms:
        raise ClockSkewError(
            f"clock stamp is {ahead // 1000} s ahead of the server clock (limit {max_ahead_ms // 1000} s)",
            ahead_ms=ahead,
        )


def wall_ms_of(text: str) -> int:
    """The wall time of a clock stamp, read from its leading digits: what the server checks of every
    version it is pushed, without building an ``Hlc``. Raises ``ClockError`` for a text that is not
    a stamp."""
    if _HLC_PATTERN.fullmatch(text) is None:
        raise ClockError(f"not a clock stamp: {text[:80]!r}")
    return int(text[:WALL_DIGITS])
