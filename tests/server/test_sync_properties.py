"""Properties of push and pull over random histories, and the index use that keeps pull cheap."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.kinds import Tier
from shared.protocol import ChangeIn, ChangeStatus, Role
from sync_server.storage.sync import grants_after_statement, versions_after_statement
from tests.server.helpers import Harness, contact_change, new_id, person_change

PERSON_FIELDS = ["name", "phone", "goals", "risk_summary", "date_of_birth"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_histories_pull_back_exactly_the_accepted_versions(harness: Harness, data: st.DataObject) -> None:
    """Whatever is pushed, replayed or refused, a paged pull returns each stored version once, in seq order."""
    org = harness.new_org()
    worker = harness.join(org, Role.LINK_WORKER)
    persons = [new_id() for _ in range(3)]
    created: set[str] = set()
    stored: dict[str, int] = {}
    sent: list[ChangeIn] = []
    for _ in range(data.draw(st.integers(1, 4), label="pushes")):
        batch: list[ChangeIn] = []
        for _ in range(data.draw(st.integers(0, 6), label="batch size")):
            choice = data.draw(st.sampled_from(["field", "contact", "replay", "bad_tier"]), label="change")
            person = data.draw(st.sampled_from(persons), label="person")
            author = data.draw(st.sampled_from([worker, org.coordinator]), label="author")
            if choice == "replay" and sent:
                batch.append(data.draw(st.sampled_from(sent), label="replayed"))
            elif choice == "contact":
                batch.append(contact_change(org, author, person))
            elif choice == "bad_tier":
                batch.append(person_change(org, author, person, "risk_summary", "x", tier=Tier.BASIC))
            else:
                batch.append(person_change(org, author, person, data.draw(st.sampled_from(PERSON_FIELDS)), "v"))
        author = worker if not batch or batch[0].author_device_id == worker.device_id else org.coordinator
        response = harness.push(author, batch)
        seen_in_batch: set[str] = set()
        for change, result in zip(batch, response.results, strict=True):
            expected_new = (
                change.change_id not in stored
                and change.change_id not in seen_in_batch
                and change.author_device_id == author.device_id
                and not (change.field == "risk_summary" and change.tier is Tier.BASIC)
                and (change.kind == "person" or change.case_id in created)
            )
            if result.status is ChangeStatus.ACCEPTED:
                assert expected_new, (change, result)
                assert result.seq is not None
                stored[change.change_id] = result.seq
                if change.kind == "person":
                    created.add(change.record_id)
            elif result.status is ChangeStatus.DUPLICATE:
                assert result.seq == stored[change.change_id]
            else:
                assert not expected_new, (change, result)
            seen_in_batch.add(change.change_id)
        sent += batch
    limit = data.draw(st.integers(1, 7), label="page size")
    pulled = [version for page in harness.pull_all(org.coordinator, limit=limit) for version in page.versions]
    assert [(v.change_id, v.seq) for v in pulled] == sorted(stored.items(), key=lambda item: item[1])


def test_pull_queries_read_in_order_through_an_index(app: FastAPI, database_url: str) -> None:
    """Pull cost follows what it returns: each query walks an index in seq order, with no sort.

    PostgreSQL picks between the two key-grant indexes by its statistics; either reads in order.
    """
    org, user = str(uuid.uuid4()), str(uuid.uuid4())
    grant_indexes = ("ix_key_grant_recipient", "ix_key_grant_org_id_seq")
    statements = [
        (("ix_version_org_id_seq",), versions_after_statement(org, 10, 10_000, 501)),
        (grant_indexes, grants_after_statement(org, "user", user, 10, 10_000, 501)),
        (grant_indexes, grants_after_statement(org, "organisation", org, 10, 10_000, 501)),
    ]
    engine = app.state.engine
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if not sqlite:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for indexes, statement in statements:
            sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            if sqlite:
                plan = " | ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
                assert any(f"USING INDEX {index} " in plan for index in indexes), plan
                assert "TEMP B-TREE" not in plan, plan
            else:
                plan = " | ".join(str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))
                assert any(f"Index Scan using {index} " in plan for index in indexes), plan
                assert "Sort" not in plan, plan
        connection.rollback()
