"""The merge rule: current values and open conflicts from a set of versions.

Every replica (server and each device) runs exactly this code over the versions it holds, so
replicas holding the same versions agree, whatever order the versions arrived in.

1. Versions of one field are totally ordered by ``(hlc, author_device_id)``; the greatest is the
   current value.
2. A version conflicts when its ``base_hlc`` is not the hlc of the version just before it and its
   equality tag differs from that version's tag: two writers changed the field from the same
   starting point to different values.
3. A conflict stays open until some version names the conflicting version in ``settles``. An
   ordinary later edit does not close it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise

__all__ = [
    "Conflict",
    "FieldState",
    "VersionStamp",
    "field_state",
    "merge_version_sets",
    "open_conflicts",
    "record_states",
]


@dataclass(frozen=True)
class VersionStamp:
    """What the merge rule needs to know about a version: metadata only, never the value."""

    change_id: str
    record_id: str
    field: str
    hlc: str
    author_device_id: str
    base_hlc: str | None
    tag: str
    settles: tuple[str, ...] = ()

    @property
    def order_key(self) -> tuple[str, str, str]:
        return (self.hlc, self.author_device_id, self.change_id)


@dataclass(frozen=True)
class Conflict:
    """Two writers changed ``field`` from the same starting point to different values.

    ``conflict_id`` is the change id of the later version; a settling version names it.
    """

    record_id: str
    field: str
    earlier: str
    later: str

    @property
    def conflict_id(self) -> str:
        return self.later


@dataclass(frozen=True)
class FieldState:
    record_id: str
    field: str
    current: VersionStamp
    history: tuple[VersionStamp, ...]
    conflicts: tuple[Conflict, ...]


def merge_version_sets(*sets: Mapping[str, VersionStamp]) -> dict[str, VersionStamp]:
    """Union of version sets keyed by change id (a change id always names the same content)."""
    merged: dict[str, VersionStamp] = {}
    for versions in sets:
        merged.update(versions)
    return merged


def field_state(versions: Iterable[VersionStamp]) -> FieldState:
    """Current value, ordered history and open conflicts of one field of one record."""
    unique = {version.change_id: version for version in versions}
    if not unique:
        raise ValueError("a field state needs at least one version")
    history = tuple(sorted(unique.values(), key=lambda version: version.order_key))
    first = history[0]
    if any(version.record_id != first.record_id or version.field != first.field for version in history):
        raise ValueError("all versions must belong to one field of one record")
    settled = {change_id for version in history for change_id in version.settles}
    conflicts = tuple(
        Conflict(first.record_id, first.field, earlier.change_id, later.change_id)
        for earlier, later in pairwise(history)
        if later.base_hlc != earlier.hlc and later.tag != earlier.tag and later.change_id not in settled
    )
    return FieldState(first.record_id, first.field, history[-1], history, conflicts)


def record_states(versions: Iterable[VersionStamp]) -> dict[tuple[str, str], FieldState]:
    """Field states for every ``(record_id, field)`` present in ``versions``."""
    grouped: dict[tuple[str, str], list[VersionStamp]] = defaultdict(list)
    for version in versions:
        grouped[(version.record_id, version.field)].append(version)
    return {key: field_state(group) for key, group in grouped.items()}


def open_conflicts(versions: Iterable[VersionStamp]) -> list[Conflict]:
    """Every open conflict in ``versions``, in a stable order."""
    states = record_states(versions)
    return [conflict for key in sorted(states) for conflict in states[key].conflicts]
