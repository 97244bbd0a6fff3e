"""Queries on failed sign-ins, for throttling (see ``sync_server.services.auth``)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from sync_server.storage.tables import SignInFailureRow

__all__ = ["add_failure", "clear_failures", "failures_since", "prune_failures"]


def failures_since(session: Session, scope: str, subject: str, since_ms: int) -> tuple[int, int | None]:
    """How many failures ``subject`` has had since ``since_ms``, and when the oldest of them was."""
    count, oldest = session.exec(
        select(func.count(), func.min(SignInFailureRow.at_ms)).where(
            SignInFailureRow.scope == scope,
            SignInFailureRow.subject == subject,
            SignInFailureRow.at_ms > since_ms,
        )
    ).one()
    return int(count), (int(oldest) if oldest is not None else None)


def add_failure(session: Session, scope: str, subject: str, at_ms: int) -> None:
    session.add(SignInFailureRow(id=str(uuid.uuid4()), scope=scope, subject=subject, at_ms=at_ms))
    session.flush()


def clear_failures(session: Session, scope: str, subject: str) -> None:
    session.execute(
        delete(SignInFailureRow).where(col(SignInFailureRow.scope) == scope, col(SignInFailureRow.subject) == subject)
    )


def prune_failures(session: Session, before_ms: int) -> None:
    session.execute(delete(SignInFailureRow).where(col(SignInFailureRow.at_ms) <= before_ms))
