"""The merge rule: order-independent current values and conflicts (ARCHITECTURE.md, merge rule)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.clock import Hlc
from shared.merge import (
    Conflict,
    VersionStamp,
    field_state,
    merge_version_sets,
    open_conflicts,
    record_states,
)

RECORD = "0190a0a0-0000-7000-8000-000000000001"


def stamp(
    change: str, wall: int, device: str, base: str | None, tag: str, settles: tuple[str, ...] = (), field: str = "name"
) -> VersionStamp:
    return VersionStamp(
        change_id=change,
        record_id=RECORD,
        field=field,
        hlc=Hlc(wall, 0, device).encode(),
        author_device_id=device,
        base_hlc=base,
        tag=tag,
        settles=settles,
    )


@st.composite
def histories(draw: st.DrawFn) -> list[VersionStamp]:
    """Random edit histories of two fields by up to four devices, with concurrent edits and settles."""
    count = draw(st.integers(1, 14))
    versions: list[VersionStamp] = []
    for index in range(count):
        field = draw(st.sampled_from(["name", "release_at"]))
        device = draw(st.sampled_from(["dev-a", "dev-b", "dev-c", "dev-d"]))
        same_field = [v for v in versions if v.field == field]
        base = draw(st.sampled_from([None, *[v.hlc for v in same_field]]))
        settles: tuple[str, ...] = ()
        if same_field and draw(st.booleans()):
            settles = (draw(st.sampled_from([v.change_id for v in same_field])),)
        versions.append(
            stamp(
                f"c{index}",
                draw(st.integers(1, 30)),
                device,
                base,
                draw(st.sampled_from(["t1", "t2", "t3"])),
                settles,
                field,
            )
        )
    return versions


def as_set(versions: list[VersionStamp]) -> dict[str, VersionStamp]:
    return {v.change_id: v for v in versions}


def summary(versions: dict[str, VersionStamp]) -> tuple[object, ...]:
    states = record_states(versions.values())
    return (
        tuple(sorted((key, state.current.change_id) for key, state in states.items())),
        tuple(open_conflicts(versions.values())),
    )


@settings(max_examples=300)
@given(histories(), st.randoms(use_true_random=False))
def test_same_versions_in_any_arrival_order_give_the_same_record(
    versions: list[VersionStamp], rnd: random.Random
) -> None:
    shuffled = list(versions)
    rnd.shuffle(shuffled)
    assert summary(as_set(versions)) == summary(as_set(shuffled))


@given(histories(), histories())
def test_merge_is_commutative(a: list[VersionStamp], b: list[VersionStamp]) -> None:
    # Change ids collide between the two draws; give b its own ids so the sets are distinct writes.
    b = [VersionStamp(**{**vars(v), "change_id": "b" + v.change_id}) for v in b]
    assert summary(merge_version_sets(as_set(a), as_set(b))) == summary(merge_version_sets(as_set(b), as_set(a)))


@given(histories(), histories(), histories())
def test_merge_is_associative(a: list[VersionStamp], b: list[VersionStamp], c: list[VersionStamp]) -> None:
    b = [VersionStamp(**{**vars(v), "change_id": "b" + v.change_id}) for v in b]
    c = [VersionStamp(**{**vars(v), "change_id": "c" + v.change_id}) for v in c]
    sa, sb, sc = as_set(a), as_set(b), as_set(c)
    left = merge_version_sets(merge_version_sets(sa, sb), sc)
    right = merge_version_sets(sa, merge_version_sets(sb, sc))
    assert left == right
    assert summary(left) == summary(right)


@given(histories())
def test_merge_is_idempotent(a: list[VersionStamp]) -> None:
    sa = as_set(a)
    assert merge_version_sets(sa, sa) == sa
    assert summary(merge_version_sets(sa, sa)) == summary(sa)


def test_latest_version_is_current() -> None:
    first = stamp("c1", 10, "dev-a", None, "t1")
    second = stamp("c2", 20, "dev-b", first.hlc, "t2")
    state = field_state([second, first])
    assert state.current == second
    assert state.conflicts == ()


def test_two_edits_from_the_same_starting_point_conflict_and_later_stands() -> None:
    first = stamp("c1", 10, "dev-a", None, "t1")
    mine = stamp("c2", 20, "dev-a", first.hlc, "t2")
    theirs = stamp("c3", 21, "dev-b", first.hlc, "t3")
    state = field_state([first, theirs, mine])
    assert state.current == theirs
    assert state.conflicts == (Conflict(RECORD, "name", "c2", "c3"),)


def test_concurrent_edits_to_the_same_value_do_not_conflict() -> None:
    first = stamp("c1", 10, "dev-a", None, "t1")
    mine = stamp("c2", 20, "dev-a", first.hlc, "t2")
    theirs = stamp("c3", 21, "dev-b", first.hlc, "t2")
    assert field_state([first, mine, theirs]).conflicts == ()


def test_ordinary_later_edit_keeps_the_conflict_open_and_a_settle_closes_it() -> None:
    first = stamp("c1", 10, "dev-a", None, "t1")
    mine = stamp("c2", 20, "dev-a", first.hlc, "t2")
    theirs = stamp("c3", 21, "dev-b", first.hlc, "t3")
    later = stamp("c4", 30, "dev-a", theirs.hlc, "t1")
    assert [c.conflict_id for c in field_state([first, mine, theirs, later]).conflicts] == ["c3"]
    settle = stamp("c5", 40, "dev-c", later.hlc, "t2", settles=("c3",))
    assert field_state([first, mine, theirs, later, settle]).conflicts == ()


def test_two_workers_creating_the_same_field_with_different_values_conflict() -> None:
    a = stamp("c1", 10, "dev-a", None, "t1")
    b = stamp("c2", 11, "dev-b", None, "t2")
    assert [c.conflict_id for c in field_state([a, b]).conflicts] == ["c2"]


def test_equal_hlc_orders_by_device() -> None:
    a = VersionStamp("c1", RECORD, "name", "000000000000010.000000.dev-z", "dev-z", None, "t1")
    b = VersionStamp("c2", RECORD, "name", "000000000000010.000000.dev-z", "dev-a", None, "t2")
    assert field_state([a, b]).current == a
