"""Errors that both the client and the server raise.

OutreachError
 ├── CryptoError            a key or ciphertext could not be used
 │    └── DecryptionError   wrong key, tampered ciphertext, associated data or envelope
 ├── ClockError             a hybrid logical clock value is malformed or implausible
 │    └── ClockSkewError    a wall time too far ahead of the reference clock
 └── ProtocolError          a wire message breaks the v1 protocol
      └── UnsupportedProtocolVersion
"""

from __future__ import annotations


class OutreachError(Exception):
    """Base of every error raised by Gatepost's own code."""


class CryptoError(OutreachError):
    """A key or ciphertext could not be used."""


class DecryptionError(CryptoError):
    """Authenticated decryption failed: wrong key or tampered data."""


class ClockError(OutreachError):
    """A hybrid logical clock value is malformed or implausible."""


class ClockSkewError(ClockError):
    """A wall time is further ahead of the reference clock than allowed."""

    def __init__(self, message: str, *, ahead_ms: int) -> None:
        super().__init__(message)
        self.ahead_ms = ahead_ms


class ProtocolError(OutreachError):
    """A wire message breaks the protocol."""


class UnsupportedProtocolVersion(ProtocolError):
    """The peer speaks a protocol version this side cannot serve."""

    def __init__(self, message: str, *, requested: str | None, supported: tuple[int, ...]) -> None:
        super().__init__(message)
        self.requested = requested
        self.supported = supported
