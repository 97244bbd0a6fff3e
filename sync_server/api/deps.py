"""FastAPI dependencies: settings, the per-request database session, and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from shared.protocol import Role
from sync_server.context import ServerContext
from sync_server.errors import Forbidden, Unauthenticated
from sync_server.services import auth
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.tokens import TokenService
from sync_server.settings import ServerSettings

__all__ = [
    "ContextDep",
    "CoordinatorDevice",
    "CurrentDevice",
    "SessionDep",
    "SettingsDep",
    "TokensDep",
]


async def get_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


async def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


async def get_tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; whatever it did not commit is rolled back when it closes."""
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        yield session


# The three above only read the application's state: as coroutines they run on the event loop
# instead of taking a trip through the thread pool each, as a plain function would.

ContextDep = Annotated[ServerContext, Depends(get_context)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
SessionDep = Annotated[Session, Depends(get_session)]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthenticated("not_signed_in", "Sign in first")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("token_invalid", "Your session is not valid: sign in again")
    return token.strip()


def get_current_device(
    request: Request, context: ContextDep, tokens: TokensDep, session: SessionDep
) -> AuthenticatedDevice:
    return auth.authenticate(context, tokens, session, _bearer_token(request))


CurrentDevice = Annotated[AuthenticatedDevice, Depends(get_current_device)]


async def get_coordinator_device(caller: CurrentDevice) -> AuthenticatedDevice:
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can do this")
    return caller


CoordinatorDevice = Annotated[AuthenticatedDevice, Depends(get_coordinator_device)]
