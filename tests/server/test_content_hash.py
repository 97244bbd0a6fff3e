"""The fast content hash of a change equals the hash of its canonical JSON (stored hashes must not move)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kinds import Tier
from shared.protocol import ChangeIn
from sync_server.services.content import canonical_json, content_hash

_uuids = st.uuids().map(str)
_stamps = st.builds(
    lambda wall, counter, device: f"{wall:015d}.{counter:06d}.{device}",
    st.integers(0, 10**15 - 1),
    st.integers(0, 999_999),
    st.from_regex(r"\A[a-z0-9-]{1,64}\Z"),
)
_changes = st.builds(
    ChangeIn,
    change_id=_uuids,
    record_id=_uuids,
    case_id=st.none() | _uuids,
    kind=st.from_regex(r"\A[a-z_]{1,40}\Z"),
    field=st.from_regex(r"\A[a-z_]{1,40}\Z"),
    tier=st.sampled_from(Tier),
    key_id=st.builds(lambda case, version: f"case:{case}:full:v{version}", _uuids, st.integers(1, 999_999)),
    hlc=_stamps,
    base_hlc=st.none() | _stamps,
    author_device_id=_uuids,
    nonce=st.from_regex(r"\A[A-Za-z0-9_-]{16}\Z"),
    ciphertext=st.from_regex(r"\A[A-Za-z0-9_-]{0,300}\Z"),
    tag=st.from_regex(r"\A[0-9a-f]{32}\Z"),
    amends=st.none() | _uuids,
    settles=st.lists(_uuids, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(change=_changes)
def test_a_change_hashes_as_its_canonical_json(change: ChangeIn) -> None:
    assert content_hash(change) == hashlib.sha256(canonical_json(change)).hexdigest()
