"""The hybrid logical clock: ordering, encoding and the server's bound on future stamps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.clock import (
    MAX_CLOCK_AHEAD_MS,
    Hlc,
    HybridClock,
    check_not_ahead,
    check_wall_not_ahead,
    is_valid_hlc,
    wall_ms_of,
)
from shared.errors import ClockError, ClockSkewError

devices = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=36)
stamps = st.builds(Hlc, st.integers(0, 10**14), st.integers(0, 999_999), devices)


@given(stamps)
def test_encoding_round_trips(stamp: Hlc) -> None:
    assert Hlc.parse(stamp.encode()) == stamp
    assert is_valid_hlc(stamp.encode())


@given(stamps)
def test_the_wall_time_read_from_the_text_is_the_stamps(stamp: Hlc) -> None:
    # The server reads only the wall time of each pushed stamp (to bound it), not the whole stamp.
    assert wall_ms_of(stamp.encode()) == stamp.wall_ms


@given(stamps, stamps)
def test_text_order_is_stamp_order(a: Hlc, b: Hlc) -> None:
    # Storage orders versions by the encoded text; it must agree with the tuple order.
    assert (a.encode() < b.encode()) == (a < b)


@pytest.mark.parametrize("text", ["", "1.2.x", "000000000000001.000001.", "000000000000001.000001.DEV", "a" * 90])
def test_malformed_stamps_are_refused(text: str) -> None:
    assert not is_valid_hlc(text)
    with pytest.raises(ClockError):
        Hlc.parse(text)
    with pytest.raises(ClockError):
        wall_ms_of(text)


@given(st.lists(st.integers(0, 10**13), min_size=1, max_size=50))
def test_local_stamps_strictly_increase_even_when_the_wall_clock_goes_back(walls: list[int]) -> None:
    clock = HybridClock("device-a")
    issued = [clock.now(wall) for wall in walls]
    assert issued == sorted(issued)
    assert len(set(issued)) == len(issued)


@given(st.integers(0, 10**13), stamps, st.integers(0, 10**13))
def test_an_edit_after_receiving_sorts_after_what_was_received(own_wall: int, remote: Hlc, later_wall: int) -> None:
    clock = HybridClock("device-b")
    clock.now(own_wall)
    clock.observe(remote, own_wall)
    edit = clock.now(later_wall)
    assert (edit.wall_ms, edit.counter) > (remote.wall_ms, remote.counter)


def test_phone_hours_behind_still_orders_after_what_it_saw() -> None:
    server_now = 1_800_000_000_000
    colleague = HybridClock("colleague")
    seen = colleague.now(server_now)
    slow_phone = HybridClock("slow-phone")
    slow_phone.observe(seen, server_now - 3 * 3600 * 1000)
    edit = slow_phone.now(server_now - 3 * 3600 * 1000)
    assert edit > seen


def test_counter_overflow_moves_to_the_next_millisecond() -> None:
    clock = HybridClock("d", wall_ms=5, counter=999_999)
    stamp = clock.now(5)
    assert (stamp.wall_ms, stamp.counter) == (6, 0)


def test_stamp_far_ahead_of_server_is_refused_with_how_far() -> None:
    now = 1_800_000_000_000
    check_not_ahead(Hlc(now + MAX_CLOCK_AHEAD_MS, 0, "d"), now)
    with pytest.raises(ClockSkewError) as caught:
        check_not_ahead(Hlc(now + 3 * 3600 * 1000, 0, "d"), now)
    assert caught.value.ahead_ms == 3 * 3600 * 1000
    check_wall_not_ahead(now + MAX_CLOCK_AHEAD_MS, now)
    with pytest.raises(ClockSkewError):
        check_wall_not_ahead(now + MAX_CLOCK_AHEAD_MS + 1, now)
