from __future__ import annotations

from fastapi import APIRouter, Request

from shared.protocol import (
    LoginRequest,
    PasswordResetRequest,
    PreloginRequest,
    PreloginResponse,
    RefreshRequest,
    RegisterRequest,
    SessionGrant,
)
from sync_server.api.deps import ContextDep, SessionDep, TokensDep
from sync_server.api.problems import problem_responses
from sync_server.services import auth

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=problem_responses(413, 422, 426))


@router.post("/prelogin", response_model=PreloginResponse, summary="KDF parameters for an email")
def prelogin(body: PreloginRequest, context: ContextDep, session: SessionDep) -> PreloginResponse:
    return auth.prelogin(context, session, body)


@router.post(
    "/register",
    response_model=SessionGrant,
    summary="Create an account with an invitation code",
    responses=problem_responses(403, 409),
)
def register(body: RegisterRequest, context: ContextDep, tokens: TokensDep, session: SessionDep) -> SessionGrant:
    return auth.register(context, tokens, session, body)


@router.post("/login", response_model=SessionGrant, summary="Sign in a device", responses=problem_responses(401, 429))
def login(
    body: LoginRequest, request: Request, context: ContextDep, tokens: TokensDep, session: SessionDep
) -> SessionGrant:
    # Behind a TLS proxy, `outreach-server serve --proxy-headers` makes this the phone's address.
    client_address = request.client.host if request.client is not None else "unknown"
    return auth.login(context, tokens, session, body, client_address=client_address)


@router.post(
    "/refresh", response_model=SessionGrant, summary="Rotate a refresh token", responses=problem_responses(401)
)
def refresh(body: RefreshRequest, context: ContextDep, tokens: TokensDep, session: SessionDep) -> SessionGrant:
    return auth.refresh(context, tokens, session, body)


@router.post(
    "/reset",
    response_model=SessionGrant,
    summary="Set a new password (and keys) with a coordinator's reset code",
    responses=problem_responses(403),
)
def reset_password(
    body: PasswordResetRequest, context: ContextDep, tokens: TokensDep, session: SessionDep
) -> SessionGrant:
    return auth.reset_password(context, tokens, session, body)
