"""``outreach-server``: run, migrate and administer the sync server.

    outreach-server serve [--host H] [--port P]
    outreach-server migrate
    outreach-server init-org NAME --coordinator-email EMAIL
    outreach-server invite --org NAME --role ROLE [--email EMAIL]
    outreach-server audit verify
    outreach-server retention --org NAME [--days N]
    outreach-server purge [--case ID] [--dry-run] [--yes]

Configuration comes from ``OUTREACH_*`` environment variables (see ``sync_server.settings``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from shared.protocol import Email, Invitation, Role
from sync_server.context import ServerContext
from sync_server.errors import ApiError
from sync_server.settings import ServerSettings
from sync_server.storage.database import make_engine, migrate

__all__ = ["app"]

app = typer.Typer(help="Gatepost sync server: run it, migrate its database, create organisations and invitations.")

_EMAIL = TypeAdapter(Email)


def _settings() -> ServerSettings:
    try:
        return ServerSettings()
    except ValidationError as error:
        messages = "; ".join(str(item.get("msg", "")) for item in error.errors())
        typer.echo(f"Configuration problem: {messages}", err=True)
        raise typer.Exit(2) from None


def _email(value: str) -> str:
    try:
        return _EMAIL.validate_python(value)
    except ValidationError:
        typer.echo(f"Not an email address: {value!r}", err=True)
        raise typer.Exit(2) from None


def _print_invitation(invitation: Invitation) -> None:
    expires = datetime.fromtimestamp(invitation.expires_at_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    typer.echo(f"Invitation code: {invitation.code}")
    typer.echo(f"  role: {invitation.role.value}")
    typer.echo(f"  for: {invitation.email or 'anyone with the code'}")
    typer.echo(f"  expires: {expires}")


KEEP_ALIVE_S = 30


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: OUTREACH_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: OUTREACH_SERVER_PORT, 8000)")] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option("--ssl-certfile", help="TLS certificate chain (PEM): serve https directly")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option("--ssl-keyfile", help="TLS private key (PEM)")] = None,
    proxy_headers: Annotated[
        bool, typer.Option("--proxy-headers", help="Behind a TLS reverse proxy: trust its X-Forwarded-* headers")
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option("--forwarded-allow-ips", help="Proxy addresses trusted with --proxy-headers")
    ] = "127.0.0.1",
) -> None:
    """Run the server with uvicorn (https with --ssl-certfile/--ssl-keyfile, or behind a proxy)."""
    import uvicorn

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise typer.BadParameter("give both --ssl-certfile and --ssl-keyfile, or neither")
    settings = _settings()
    uvicorn.run(
        "sync_server.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port if port is not None else settings.server_port,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None,
        # Longer than a client's idle-connection expiry (httpx: 5 s), so the client always closes an
        # idle connection first. With uvicorn's default (also 5 s) a request sent on a connection
        # the server was closing failed ("Server disconnected") and the phone reported offline.
        timeout_keep_alive=KEEP_ALIVE_S,
    )


@app.command("migrate")
def migrate_command() -> None:
    """Bring the database to the newest schema."""
    settings = _settings()
    migrate(settings.resolved_database_url())
    typer.echo("Database is up to date.")


@app.command("init-org")
def init_org(
    name: Annotated[str, typer.Argument(help="Organisation name (reused if it exists)")],
    coordinator_email: Annotated[str, typer.Option("--coordinator-email", help="The first coordinator's email")],
) -> None:
    """Create an organisation (or reuse it) and print a coordinator invitation code."""
    from sync_server.services import organisation

    settings = _settings()
    email = _email(coordinator_email)
    url = settings.resolved_database_url()
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org, invitation, created = organisation.init_organisation(ServerContext(settings), session, name, email)
    except ApiError as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"Organisation {'created' if created else 'already exists'}: {org.name}")
    typer.echo(f"Organisation id: {org.id}")
    _print_invitation(invitation)


@app.command()
def invite(
    org: Annotated[str, typer.Option("--org", help="Organisation name")],
    role: Annotated[Role, typer.Option("--role", help="coordinator, link_worker or peer_mentor")],
    email: Annotated[str | None, typer.Option("--email", help="Bind the invitation to this email")] = None,
) -> None:
    """Print a new invitation code for an organisation."""
    from sync_server.services import organisation

    settings = _settings()
    bound = _email(email) if email else None
    url = settings.resolved_database_url()
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            _org, invitation = organisation.invite_by_org_name(ServerContext(settings), session, org, role, bound)
    except ApiError as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    _print_invitation(invitation)


@app.command()
def retention(
    org: Annotated[str, typer.Option("--org", help="Organisation name")],
    days: Annotated[
        int | None, typer.Option("--days", help="Set the days a closed case is kept (default 2192, six years)")
    ] = None,
) -> None:
    """Show or set how long an organisation keeps a case after it is closed."""
    from sync_server.services import cases

    settings = _settings()
    url = settings.resolved_database_url()
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            kept = cases.set_retention_by_org_name(ServerContext(settings), session, org, days)
    except ApiError as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None
    except ValidationError:
        typer.echo("--days must be between 1 and 36525", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"{org}: a closed case is kept {kept} days, then erased by `outreach-server purge`.")


@app.command()
def purge(
    case: Annotated[
        str | None, typer.Option("--case", help="Erase this one case now, whether or not its retention has run out")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be erased; change nothing")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before erasing a case named with --case")] = False,
) -> None:
    """Erase every closed case whose retention period has run out (run it daily), or one --case.

    The server deletes the case's ciphertext, keys and assignments; every device of the
    organisation deletes the case and its keys at its next sync. It cannot be undone.
    """
    from sync_server.services import cases

    settings = _settings()
    url = settings.resolved_database_url()
    migrate(url)
    engine = make_engine(url)
    ctx = ServerContext(settings)
    erased = failed = 0
    try:
        if case is not None:
            targets = [case]
            reason = "admin"
            if not dry_run and not yes:
                typer.confirm(f"Erase case {case} from the server and every device? This cannot be undone", abort=True)
        else:
            with Session(engine, expire_on_commit=False) as session:
                targets = [due.case_id for due in cases.due_cases(ctx, session)]
            reason = "retention"
        for case_id in targets:
            if dry_run:
                try:
                    with Session(engine) as session:
                        cases.check_erasable(session, case_id)
                except ApiError as error:
                    failed += 1
                    typer.echo(f"would not erase {case_id}: {error.detail}", err=True)
                    continue
                typer.echo(f"would erase {case_id}")
                continue
            # One transaction per case: a failure leaves every other erasure whole.
            try:
                with Session(engine, expire_on_commit=False) as session:
                    done = cases.erase_case_as_admin(ctx, session, case_id, reason=reason)
            except ApiError as error:
                failed += 1
                typer.echo(f"not erased {case_id}: {error.detail}", err=True)
                continue
            erased += 1
            typer.echo(
                f"erased {case_id}: versions={done.versions} records={done.records} "
                f"key_grants={done.key_grants} assignments={done.assignments}"
            )
        if case is None and not dry_run:
            # Who opened which record names the person only inside its ciphertext: kept for the
            # retention period, then deleted whoever it names.
            with Session(engine, expire_on_commit=False) as session:
                aged = cases.age_out_case_views(ctx, session)
            typer.echo(f"deleted {aged} records of who opened a record, older than the retention period")
    finally:
        engine.dispose()
    verb = "would erase" if dry_run else "erased"
    typer.echo(f"purge: {verb}={len(targets) - failed if dry_run else erased} failed={failed}")
    if failed:
        raise typer.Exit(1)


audit_app = typer.Typer(help="The hash-chained audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every audit chain: exit 0 when intact, 1 naming each altered or removed entry."""
    from sync_server.services import audit

    settings = _settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        with Session(engine) as session:
            report = audit.verify(ServerContext(settings), session)
    finally:
        engine.dispose()
    for problem in report.problems:
        typer.echo(f"TAMPERED: {problem}", err=True)
    verdict = "intact" if report.intact else "TAMPERED"
    typer.echo(f"audit: chains={report.chains} entries={report.entries} problems={len(report.problems)} {verdict}")
    if not report.intact:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
