"""Every operation of the real app, fuzzed from its own OpenAPI schema (schemathesis), in process.

For each operation schemathesis generates requests that fit the schema (``positive``) and requests
that break it (``negative``: wrong types, missing or extra fields, out-of-range numbers). They are
sent with a real coordinator's access token, on SQLite and on PostgreSQL. Every answer must be
below 500, every 4xx an ``application/problem+json`` body, every 2xx must match the documented
response schema, and rows stored before the run must be exactly as they were after it.

The examples are derandomised (the same requests on every run) and bounded to keep the run short;
``GATEPOST_FUZZ_EXAMPLES=500`` runs more, with fresh randomness.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import inspect, text

from shared.kinds import Tier
from shared.protocol import Problem
from tests.server.helpers import Harness, case_key_grant, contact_change, new_id, person_change

_EXAMPLES = int(os.environ.get("GATEPOST_FUZZ_EXAMPLES", "0")) or None
MAX_EXAMPLES = _EXAMPLES or 25


# Columns a sound request may legitimately move (a device is seen whenever its token is used).
# Columns that move with every successful request: when a device was last seen, and the audit
# chain's head (its entries are append-only and stay in the comparison).
# The retention period is the one setting a sound request of the coordinator changes (PUT /v1/org/retention).
VOLATILE_COLUMNS = {
    ("device", "last_seen_at_ms"),
    ("audit_head", "position"),
    ("audit_head", "entry_hash"),
    ("organisation", "retention_days"),
}


def stored_rows(app: FastAPI) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table, by table, without the volatile columns."""
    rows: dict[str, set[tuple[Any, ...]]] = {}
    with app.state.engine.connect() as connection:
        inspector = inspect(connection)
        for table in inspector.get_table_names():
            columns = [c["name"] for c in inspector.get_columns(table) if (table, c["name"]) not in VOLATILE_COLUMNS]
            listed = ", ".join(f'"{name}"' for name in columns)
            rows[table] = {tuple(row) for row in connection.execute(text(f'SELECT {listed} FROM "{table}"'))}
    return rows


def assert_answer_is_sound(case: Case, response: Any) -> None:
    where = f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, where
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json"), where
        problem = Problem.model_validate_json(response.content)
        assert problem.status == response.status_code, where
        assert "Traceback" not in response.text, where
    elif response.status_code < 300:
        case.validate_response(response, checks=[response_schema_conformance])


@pytest.fixture
def api_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_fuzzed_requests_get_problems_never_server_errors(
    api_schema: Any, app: FastAPI, harness: Harness, mode: GenerationMode
) -> None:
    # Something stored beforehand, which nothing the fuzzer sends may change.
    org = harness.new_org()
    worker = harness.join(org, role=org.coordinator.role)
    person = new_id()
    harness.push(
        worker,
        [person_change(org, worker, person), contact_change(org, worker, person)],
        [case_key_grant(org, person, Tier.BASIC), case_key_grant(org, person, Tier.FULL)],
    )
    before = stored_rows(app)
    headers = org.coordinator.headers

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    if mode is GenerationMode.NEGATIVE:  # only what takes input can be given bad input
        operations = [op for op in operations if len(op.body) or len(op.query)]
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=_EXAMPLES is None,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Case) -> None:
            assert_answer_is_sound(case, case.call(headers=headers))

        fuzz()

    after = stored_rows(app)
    for table, rows in before.items():
        changed = rows - after[table]
        assert not changed, f"{table}: rows stored before the fuzz changed: {changed}"
