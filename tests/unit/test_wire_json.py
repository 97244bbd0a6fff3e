"""``pull_response_json`` and ``push_response_json``: a pull page written from stored versions, and
a push's answer written from its results, are byte for byte what the models would write, and a
client reads them back as the same responses."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from shared.kinds import Tier
from shared.protocol import (
    CHANGE_RESULT_FIELDS,
    VERSION_FIELDS,
    CasePurge,
    ChangeResult,
    ChangeStatus,
    GrantResult,
    KeyGrant,
    MemberAwaitingKey,
    PullResponse,
    PushResponse,
    RejectReason,
    Role,
    Version,
    pull_response_json,
    push_response_json,
)

ids = st.uuids().map(str)
base64url = st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=600)
stamps = st.builds(
    lambda wall, counter, device: f"{wall:015d}.{counter:06d}.{device}",
    st.integers(0, 10**15 - 1),
    st.integers(0, 10**6 - 1),
    ids,
)
names = st.from_regex(r"\A[a-z_]{1,40}\Z")

versions = st.builds(
    Version,
    change_id=ids,
    record_id=ids,
    case_id=st.none() | ids,
    kind=names,
    field=names,
    tier=st.sampled_from(Tier),
    key_id=st.builds(lambda case, n: f"case:{case}:v{n}", ids, st.integers(1, 999_999)),
    hlc=stamps,
    base_hlc=st.none() | stamps,
    author_device_id=ids,
    nonce=st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=16, max_size=16),
    ciphertext=base64url,
    tag=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    amends=st.none() | ids,
    settles=st.lists(ids, max_size=3),
    seq=st.integers(1, 2**63 - 1),
    org_id=ids,
    author_user_id=ids,
)

heads = st.builds(
    lambda grants, awaiting, purges, more, sharing: PullResponse(
        versions=[],
        key_grants=grants,
        next=7,
        has_more=more,
        server_time_ms=1_764_000_000_000,
        members_awaiting_key=awaiting,
        purges=purges,
        sharing=sharing,
    ),
    st.lists(
        st.builds(
            KeyGrant,
            grant_id=ids,
            key_id=st.builds(lambda org: f"org:{org}:v1", ids),
            case_id=st.none(),
            recipient_kind=st.just("user"),
            recipient_id=ids,
            wrapped_with=st.builds(lambda user: f"user:{user}", ids),
            wrapped=st.text(alphabet=string.ascii_letters, min_size=8, max_size=40),
            seq=st.integers(1, 1000),
            org_id=ids,
            created_by_user_id=ids,
        ),
        max_size=2,
    ),
    st.lists(
        st.builds(
            MemberAwaitingKey,
            user_id=ids,
            # Names are free text: accents, quotes and emoji must come out as the model writes them.
            display_name=st.text(min_size=1, max_size=20).filter(lambda name: name.strip() and "\x00" not in name),
            role=st.sampled_from(Role),
            public_key=st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=60),
        ),
        max_size=2,
    ),
    st.lists(
        st.builds(
            CasePurge,
            case_id=ids,
            reason=st.sampled_from(["unassigned", "erased", "sharing_ended"]),
            tiers=st.none() | st.lists(st.sampled_from(Tier), min_size=1, max_size=2),
        ),
        max_size=2,
    ),
    st.booleans(),
    st.booleans(),
)


@given(head=heads, page=st.lists(versions, max_size=5))
def test_a_page_written_from_stored_versions_is_what_the_model_writes(head: PullResponse, page: list[Version]) -> None:
    stored = [version.model_dump(mode="json") for version in page]
    assert all(tuple(value) == VERSION_FIELDS for value in stored)  # the order the server stores them in

    written = pull_response_json(head, stored)

    whole = head.model_copy(update={"versions": page})
    assert written == whole.model_dump_json().encode()
    assert PullResponse.model_validate_json(written) == whole


statuses = st.sampled_from(ChangeStatus)
reasons = st.none() | st.sampled_from(RejectReason)
details = st.none() | st.text(max_size=80).filter(lambda text: "\x00" not in text)
change_results = st.builds(
    ChangeResult, change_id=ids, status=statuses, seq=st.none() | st.integers(1), reason=reasons, detail=details
)
grant_results = st.builds(
    GrantResult, grant_id=ids, status=statuses, seq=st.none() | st.integers(1), reason=reasons, detail=details
)


@given(
    results=st.lists(change_results, max_size=5),
    grants=st.lists(grant_results, max_size=3),
    server_time=st.integers(0, 2**63 - 1),
)
def test_a_push_answer_written_from_its_results_is_what_the_model_writes(
    results: list[ChangeResult], grants: list[GrantResult], server_time: int
) -> None:
    made = [result.model_dump(mode="json") for result in results]
    assert all(tuple(value) == CHANGE_RESULT_FIELDS for value in made)  # the order the server makes them in
    head = PushResponse(results=[], grant_results=grants, server_time_ms=server_time)

    written = push_response_json(head, made)

    whole = head.model_copy(update={"results": results})
    assert written == whole.model_dump_json().encode()
    assert PushResponse.model_validate_json(written) == whole
