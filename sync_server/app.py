"""The application factory. Importing this module does nothing; ``create_app`` builds everything."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.protocol import PROTOCOL_VERSION, PushRequest
from sync_server.api.bodies import install_body_schemas
from sync_server.api.middleware import RequestGuard
from sync_server.api.problems import install_problem_handlers
from sync_server.api.routes import audit, auth, cases, devices, health, organisation, sharing, sync
from sync_server.context import Clock, ServerContext, system_clock_ms
from sync_server.services.tokens import TokenService, load_signing_key
from sync_server.settings import ServerSettings
from sync_server.storage.database import make_engine, migrate

__all__ = ["create_app"]

TITLE = "Gatepost sync server"


def create_app(settings: ServerSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the sync server: engine, migrations (if ``auto_migrate``), signing key, routes.

    ``settings`` default to the ``OUTREACH_*`` environment. ``clock`` (milliseconds since the
    epoch) is for tests that need to move time; it defaults to the system clock.
    """
    settings = settings if settings is not None else ServerSettings()
    engine = make_engine(settings.resolved_database_url())
    try:
        if settings.auto_migrate:
            migrate(settings.resolved_database_url(), engine=engine)
        tokens = TokenService(settings, load_signing_key(settings))
    except BaseException:
        engine.dispose()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What exists once the app is built (modules, routes, schemas, tables) lives as long as the
        # process: leave it out of the collector's full passes, which otherwise walked all of it
        # (about 90 ms each, twice during a 10,000-note push). Garbage is collected first, so
        # none of it is kept.
        gc.collect()
        gc.freeze()
        yield
        engine.dispose()

    app = FastAPI(
        title=TITLE,
        version=f"protocol {PROTOCOL_VERSION}",
        description="Stores ciphertext and the metadata needed to order, route and reconcile it. "
        "Errors are application/problem+json.",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.tokens = tokens
    app.state.context = ServerContext(settings=settings, clock=clock or system_clock_ms)
    install_problem_handlers(app)
    app.add_middleware(RequestGuard, max_request_bytes=settings.max_request_bytes)
    for module in (health, auth, organisation, cases, devices, audit, sync, sharing):
        app.include_router(module.router)
    install_body_schemas(app, [PushRequest])  # the bodies routes parse themselves (api.bodies)
    return app
