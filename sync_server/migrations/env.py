"""Alembic environment for the sync server.

``sync_server.storage.database.migrate`` passes an open connection in ``config.attributes``; the
``alembic`` command line (``alembic -c sync_server/alembic.ini upgrade head``) falls back to the URL
in the configuration or, failing that, to ``OUTREACH_*`` settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sync_server.storage.tables import SERVER_METADATA

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SERVER_METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from sync_server.settings import ServerSettings

    return ServerSettings().resolved_database_url()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=SERVER_METADATA, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from sync_server.storage.database import make_engine

    engine = make_engine(_url())
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
            new_connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
