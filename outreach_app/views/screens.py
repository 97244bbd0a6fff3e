"""One function per screen. Each builds controls from the state and wires intents back to it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import flet as ft

from outreach_app.services import (
    ConsentEntry,
    ContactEntry,
    FieldValue,
    FieldView,
    PersonSummary,
    UnreadableEntry,
)
from outreach_app.state import AppState, kept_for
from outreach_app.views.dashboard import DASHBOARD_SCREENS
from outreach_app.views.day import DAY_SCREENS, gate_sections
from outreach_app.views.desk import DESK_SCREENS
from outreach_app.views.directory import DIRECTORY_SCREENS
from outreach_app.views.lead import LEAD_SCREENS, lead_sections
from outreach_app.views.outcomes import OUTCOME_SCREENS, outcome_sections
from outreach_app.views.plan import PLAN_SCREENS, plan_sections
from outreach_app.views.team import TEAM_SCREENS, device_card
from outreach_app.views.widgets import (
    access_banner,
    back_button,
    choice,
    field,
    heading,
    keep_typed,
    labelled,
    primary_button,
    radio_choice,
    release_text,
    screen,
    secondary_button,
    section,
    text_button,
    top_actions,
)
from shared.kinds import (
    CONSENT_RECORDED_HOW,
    CONTACT_DURATIONS,
    CONTACT_SETTINGS,
    CONTACT_TYPES,
    LAWFUL_BASES,
    NOTE_BASIS,
    PERSON,
    Tier,
    ValueType,
)
from shared.protocol import ShareBasis
from shared.resettlement import NEED_AREAS

TIER_CHOICES = {
    "basic": "Mentors can see this",
    "full": "Link workers and coordinators only",
}


# --- signing in -------------------------------------------------------------------------------


def sign_in_screen(state: AppState, page: ft.Page) -> ft.Control:
    draft = state.draft
    # The state's own checks and the services' use different names for some fields.
    problems = {
        {"server_url": "server", "invitation_code": "code", "display_name": "name"}.get(key, key): text
        for key, text in state.form_problems.items()
    }
    server = field("Server address", value=draft.get("server", state.default_server_url), error=problems.get("server"))
    email = field("Email", value=draft.get("email", ""), keyboard=ft.KeyboardType.EMAIL, error=problems.get("email"))
    password = field("Password", password=True, error=problems.get("password"))
    if state.register_mode:
        code = field(
            "Invitation code", value=draft.get("code", ""), error=problems.get("code"), hint="From your coordinator"
        )
        name = field("Your name", value=draft.get("name", ""), error=problems.get("name"))

        async def create(_: Any) -> None:
            await state.register(
                server.value or "", code.value or "", name.value or "", email.value or "", password.value or ""
            )

        return screen(
            heading("Create your account"),
            ft.Text("Your coordinator gave you an invitation code.", size=16),
            code,
            name,
            email,
            password,
            server,
            ft.Row([primary_button("Create account", create)]),
            text_button("I already have an account", lambda _: state.show_register(False)),
        )

    if state.reset_mode:
        reset_code = field(
            "Reset code", value=draft.get("code", ""), error=problems.get("reset_code"), hint="From your coordinator"
        )
        new_password = field("New password", password=True, error=problems.get("password"))

        async def reset(_: Any) -> None:
            await state.reset_password(
                server.value or "", reset_code.value or "", email.value or "", new_password.value or ""
            )

        return screen(
            heading("Set a new password"),
            ft.Text(
                "Ask your coordinator for a reset code. Your notes are safe: once a coordinator's phone "
                "has synced, you can read everything again, and work this phone had not sent yet still goes.",
                size=16,
            ),
            reset_code,
            email,
            new_password,
            server,
            ft.Row([primary_button("Set new password", reset)]),
            text_button("Back to sign in", lambda _: state.show_reset(False)),
        )

    async def sign_in(_: Any) -> None:
        await state.sign_in(server.value or "", email.value or "", password.value or "")

    return screen(
        heading("Gatepost"),
        ft.Text(state.sign_in_message or "", color=ft.Colors.ERROR, size=16, visible=bool(state.sign_in_message)),
        ft.Text("Sign in to your caseload. Notes are kept encrypted on this phone.", size=16),
        email,
        password,
        server,
        ft.Row([primary_button("Sign in", sign_in)]),
        text_button("I have an invitation code", lambda _: state.show_register(True)),
        text_button("I forgot my password", lambda _: state.show_reset(True)),
    )


def set_pin_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems = state.form_problems
    pin = field("New PIN", password=True, keyboard=ft.KeyboardType.NUMBER, error=problems.get("pin"))
    repeat = field("Repeat PIN", password=True, keyboard=ft.KeyboardType.NUMBER, error=problems.get("repeat"))

    async def save(_: Any) -> None:
        await state.set_pin(pin.value or "", repeat.value or "")

    return screen(
        heading("Choose a PIN"),
        ft.Text(
            "4 to 8 digits. You will use it to open Gatepost on this phone, even with no signal.",
            size=16,
        ),
        pin,
        repeat,
        ft.Row([primary_button("Set PIN", save)]),
    )


def unlock_screen(state: AppState, page: ft.Page) -> ft.Control:
    pin = field("PIN", password=True, keyboard=ft.KeyboardType.NUMBER, error=state.pin_message)

    async def unlock(_: Any) -> None:
        await state.unlock(pin.value or "")

    pin.on_submit = unlock
    name = state.profile.display_name if state.profile else None
    return screen(
        heading("Gatepost is locked"),
        ft.Text(f"Enter your PIN{', ' + name if name else ''}.", size=16),
        pin,
        ft.Text(state.pin_message or "", color=ft.Colors.ERROR, size=16, visible=bool(state.pin_message)),
        ft.Row([primary_button("Unlock", unlock)]),
        text_button("Sign in with password instead", lambda _: state.use_password_instead()),
    )


# --- caseload ---------------------------------------------------------------------------------


def _person_tile(state: AppState, person: PersonSummary) -> ft.Control:
    details = [release_text(person.release_at)]
    if person.establishment:
        details.append(person.establishment)
    if person.pending:
        details.append("waiting to sync")
    if person.open_conflicts:
        details.append("needs review")
    if person.shared_by:
        details.append(f"Shared by {person.shared_by}")

    async def open_person(_: Any) -> None:
        await state.open_person(person.case_id)

    return ft.Card(
        content=ft.ListTile(
            title=ft.Text(person.name or "Details not readable on this phone", size=18, weight=ft.FontWeight.W_600),
            subtitle=ft.Text(" · ".join(details), size=15),
            trailing=ft.Icon(ft.Icons.CHEVRON_RIGHT),
            on_click=open_person,
            min_height=64,
        )
    )


def caseload_screen(state: AppState, page: ft.Page) -> ft.Control:
    search = ft.TextField(
        label="Search people",
        value=state.search_text,
        prefix_icon=ft.Icons.SEARCH,
        text_size=17,
    )

    async def on_search(_: Any) -> None:
        await state.search(search.value or "")

    search.on_submit = on_search
    search.on_change = on_search

    who = state.profile
    subtitle = f"{who.display_name} · {who.org_name}" if who else ""
    people = [_person_tile(state, person) for person in state.people]
    if not people:
        people = [ft.Text("No people match." if state.search_text else "No people on the caseload yet.", size=16)]
    return screen(
        ft.Row(
            [
                ft.Column([heading("Caseload"), ft.Text(subtitle, size=14)], spacing=2, expand=True),
                *top_actions(state),
            ]
        ),
        *access_banner(state),
        search,
        ft.Row([primary_button("Add person", lambda _: state.start_adding_person(), icon=ft.Icons.PERSON_ADD)]),
        *people,
    )


# --- adding a person --------------------------------------------------------------------------


# The justice-status details that are a choice from a list (the add-person form and the edit dialog).
_CHOICE_FIELDS = tuple(name for name, spec in PERSON.fields.items() if spec.value_type is ValueType.CHOICE)
# How a person's details are grouped on the form and on the record.
DETAIL_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("About them", ("other_names", "date_of_birth", "phone", "local_connection")),
    (
        "Justice status",
        (
            "establishment",
            "release_at",
            "release_type",
            "custody_status",
            "sentence_length",
            "supervision",
            "supervision_ends_on",
            "mappa",
            "ppo",
            "iom",
        ),
    ),
    ("Working with them", ("risk_summary", "goals", "lead_professional", "engagement", "engagement_on")),
)
_DATE_FIELDS = frozenset(name for name, spec in PERSON.fields.items() if spec.value_type is ValueType.DATE)


def _detail_control(state: AppState, name: str) -> tuple[ft.Control, ft.TextField | ft.Dropdown]:
    """The add-person form's control for one detail (as shown, and the input), keeping what the
    worker types in the draft."""
    problems, draft = state.form_problems, state.draft
    spec = PERSON.fields[name]
    control: ft.TextField | ft.Dropdown
    if name in _CHOICE_FIELDS:
        control = choice(spec.label, spec.choices, value=draft.get(name) or None, error=problems.get(name))
        keep_typed(state, control, name)
        return labelled(spec.label, control), control
    control = field(
        spec.label,
        value=draft.get(name, ""),
        error=problems.get(name),
        multiline=spec.max_length > 200,
        hint="YYYY-MM-DD" if name in _DATE_FIELDS else None,
        helper=spec.help or None,
    )
    keep_typed(state, control, name)
    return control, control


def add_person_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems, draft = state.form_problems, state.draft
    inputs: dict[str, ft.TextField | ft.Dropdown] = {}
    name, inputs["name"] = _detail_control(state, "name")
    release_date_text, _, release_time_text = draft.get("release_at", "").partition("T")
    release_date = field("Release date", value=release_date_text, hint="YYYY-MM-DD", error=problems.get("release_at"))
    release_time = field("Release time", value=release_time_text, hint="HH:MM — leave empty if not confirmed")

    def keep_release(_: Any) -> None:
        date_text, time_text = (release_date.value or "").strip(), (release_time.value or "").strip()
        state.keep_draft("release_at", f"{date_text}T{time_text}" if date_text and time_text else date_text)

    release_date.on_change = release_time.on_change = keep_release

    async def save(_: Any) -> None:
        values = {key: str(control.value or "") for key, control in inputs.items()}
        date_text, time_text = (release_date.value or "").strip(), (release_time.value or "").strip()
        values["release_at"] = f"{date_text}T{time_text}" if date_text and time_text else date_text
        await state.add_person(values)

    async def back(_: Any) -> None:
        await state.show_caseload()

    groups: list[ft.Control] = []
    for title, names in DETAIL_GROUPS:
        groups.append(section(title))
        for detail in names:
            if detail == "release_at":
                groups += [release_date, release_time]
                continue
            shown, inputs[detail] = _detail_control(state, detail)
            groups.append(shown)
            if detail == "risk_summary":
                groups.append(ft.Text("Risk is seen by link workers and coordinators only, never by mentors.", size=14))
    return screen(
        ft.Row([back_button(back), heading("Add person")]),
        name,
        *groups,
        ft.Row([primary_button("Save person", save)]),
        text_button("Back", back),
    )


# --- a person's record ------------------------------------------------------------------------


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %Y, %H:%M")


def _occurred(text: str) -> str:
    try:
        return dt.datetime.fromisoformat(text).strftime("%a %d %b %Y, %H:%M")
    except ValueError:
        return text


def _version_line(version: FieldValue) -> str:
    return f"{version.author.name}: {version.value or 'not readable'} ({_when(version.written_at_ms)})"


def _keep_handler(state: AppState, field_name: str, value: str | None, conflict_id: str) -> Any:
    async def keep(_: Any) -> None:
        await state.update_field(field_name, value or "", (conflict_id,))

    return keep


def _field_row(state: AppState, page: ft.Page, view: FieldView) -> ft.Control:
    # A person another organisation shares with ours is read only here.
    read_only = state.record is not None and state.record.shared_by is not None
    value = view.value if view.value is not None else "—"
    if view.name in _CHOICE_FIELDS and view.value:
        value = PERSON.fields[view.name].choices.get(view.value, view.value)
    if view.name == "release_at" and view.value:
        value = release_text(view.value).removeprefix("Release ")
    rows: list[ft.Control] = [
        ft.Row(
            [
                ft.Column(
                    [ft.Text(view.label, size=13, color=ft.Colors.ON_SURFACE_VARIANT), ft.Text(value, size=16)],
                    spacing=2,
                    expand=True,
                ),
                *(
                    []
                    if read_only
                    else [
                        ft.IconButton(
                            icon=ft.Icon(ft.Icons.EDIT_OUTLINED, semantics_label=f"Edit {view.label}"),
                            on_click=lambda _: _edit_dialog(state, page, view),
                        )
                    ]
                ),
            ]
        )
    ]
    for conflict in () if read_only else view.conflicts:
        earlier, later = conflict.earlier, conflict.later
        rows.append(
            ft.Container(
                ft.Column(
                    [
                        ft.Text("Two people changed this at the same time", weight=ft.FontWeight.W_600),
                        ft.Text(_version_line(earlier)),
                        ft.Text(_version_line(later)),
                        ft.Row(
                            [
                                ft.OutlinedButton(
                                    f"Keep {earlier.value}",
                                    on_click=_keep_handler(state, view.name, earlier.value, conflict.conflict_id),
                                ),
                                ft.OutlinedButton(
                                    f"Keep {later.value}",
                                    on_click=_keep_handler(state, view.name, later.value, conflict.conflict_id),
                                ),
                            ],
                            wrap=True,
                        ),
                    ],
                    spacing=4,
                ),
                bgcolor=ft.Colors.ERROR_CONTAINER,
                padding=10,
                border_radius=8,
            )
        )
    return ft.Column(rows, spacing=4)


def _edit_dialog(state: AppState, page: ft.Page, view: FieldView) -> None:
    spec = PERSON.fields[view.name]
    editor: ft.TextField | ft.Dropdown
    if view.name in _CHOICE_FIELDS:
        editor = choice(view.label, spec.choices, value=view.value)
    else:
        editor = field(
            view.label,
            value=view.value or "",
            multiline=spec.max_length > 200,
            hint="YYYY-MM-DD" if view.name in _DATE_FIELDS else None,
            helper=spec.help or None,
        )

    async def save(_: Any) -> None:
        page.pop_dialog()
        await state.update_field(view.name, editor.value or "")

    page.show_dialog(
        ft.AlertDialog(
            title=ft.Text(f"Change {view.label.lower()}"),
            content=labelled(view.label, editor) if isinstance(editor, ft.Dropdown) else editor,
            actions=[
                ft.TextButton("Cancel", on_click=lambda _: page.pop_dialog()),
                ft.FilledButton("Save change", on_click=save),
            ],
        )
    )


def _contact_card(entry: ContactEntry) -> ft.Control:
    status = {"pending": "Waiting to sync", "synced": "Synced", "not_accepted": "Not accepted by the server"}[
        entry.sync_state
    ]
    lines: list[ft.Control] = [
        ft.Text(f"{_occurred(entry.occurred_at)} · {entry.setting_label}", weight=ft.FontWeight.W_600, size=15),
        ft.Text(
            " · ".join(
                [
                    entry.contact_type_label,
                    *([entry.duration_label] if entry.duration_label else []),
                    f"by {entry.author.name}",
                ]
            ),
            size=14,
        ),
        ft.Text(entry.note, size=16),
        *([ft.Text("Needs: " + ", ".join(entry.need_area_labels), size=14)] if entry.need_area_labels else []),
        ft.Text(
            f"{entry.basis_label} · {TIER_CHOICES[entry.tier.value]} · {status}",
            size=13,
            color=ft.Colors.ON_SURFACE_VARIANT,
        ),
    ]
    if entry.not_accepted_reason:
        lines.append(ft.Text(entry.not_accepted_reason, color=ft.Colors.ERROR, size=13))
    return ft.Card(content=ft.Container(ft.Column(lines, spacing=4), padding=12))


def _unreadable_card(entry: UnreadableEntry) -> ft.Control:
    return ft.Card(
        content=ft.Container(
            ft.Text(
                f"A {entry.kind} entry by {entry.author.name} on {_when(entry.written_at_ms)} "
                "cannot be read on this phone.",
                size=14,
                italic=True,
            ),
            padding=12,
        )
    )


def person_screen(state: AppState, page: ft.Page) -> ft.Control:
    record = state.record
    if record is None:
        return screen(ft.Text("Loading…"))

    async def back(_: Any) -> None:
        await state.go_home()

    views = [view for view in record.fields if view.name != "name"]
    mentor_note: list[ft.Control] = []
    if state.is_mentor:
        # A mentor's phone never receives the full tier: no empty rows for what they may not see.
        views = [view for view in views if view.tier is Tier.BASIC]
        mentor_note = [ft.Text("You see the details a mentor may see.", size=15)]
    if record.shared_by:
        # Shared with us by another organisation: only what was shared arrived, and it is read only.
        views = [view for view in views if view.value is not None]
    by_name = {view.name: view for view in views}
    details: list[ft.Control] = []
    for title, names in DETAIL_GROUPS:
        rows = [_field_row(state, page, by_name[name]) for name in names if name in by_name]
        if rows:
            details += [ft.Text(title, size=15, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY), *rows]
    timeline: list[ft.Control] = [_contact_card(entry) for entry in record.contacts]
    timeline += [_unreadable_card(entry) for entry in record.unreadable]
    if not timeline:
        timeline = [ft.Text("No contacts logged yet.", size=16)]
    return screen(
        ft.Row(
            [back_button(back), ft.Text(record.name or "Not readable", size=24, weight=ft.FontWeight.BOLD, expand=True)]
        ),
        *(
            [
                ft.Text(
                    f"Shared with your organisation by {record.shared_by}. You can read what they share; "
                    f"only {record.shared_by} can add to it.",
                    size=15,
                )
            ]
            if record.shared_by
            else [
                ft.Row(
                    [primary_button("Log contact", lambda _: state.start_logging_contact(), icon=ft.Icons.EDIT_NOTE)]
                )
            ]
        ),
        *_closed_banner(state),
        section("Contacts"),
        *timeline,
        *gate_sections(state, page),
        *lead_sections(state, page),
        *plan_sections(state, page),
        *outcome_sections(state, page),
        section("Details"),
        *mentor_note,
        *details,
        *_sharing_controls(state, page),
        *_mentor_controls(state),
        *_export_controls(state, page),
        *_case_controls(state, page),
        text_button("Back", back),
    )


def _mentor_controls(state: AppState) -> list[ft.Control]:
    """Coordinators: the person's peer mentors, to assign and unassign (online)."""
    if not state.is_coordinator:
        return []
    heading_row: list[ft.Control] = [section("Peer mentors")]
    mentors = state.mentors
    if mentors is None:
        return [
            *heading_row,
            ft.Text("Connect to the server (and sync this person) to see and assign peer mentors.", size=15),
        ]
    rows: list[ft.Control] = []
    for mentor in mentors.assigned:

        async def unassign(_: Any, user_id: str = mentor.user_id, name: str = mentor.display_name) -> None:
            await state.unassign_mentor(user_id, name)

        rows.append(
            ft.Row(
                [
                    ft.Text(mentor.display_name, size=16, expand=True),
                    secondary_button(f"Unassign {mentor.display_name}", unassign),
                ],
                wrap=True,
            )
        )
    if not rows:
        rows = [ft.Text("No peer mentor yet.", size=15)]
    if not mentors.available:
        return [*heading_row, *rows, ft.Text("There is no other peer mentor in your team to assign.", size=15)]
    picker = choice(
        "Assign a mentor",
        {mentor.user_id: mentor.display_name for mentor in mentors.available},
        error=state.form_problems.get("mentor"),
    )

    async def assign(_: Any) -> None:
        await state.assign_mentor(str(picker.value or ""))

    return [
        *heading_row,
        *rows,
        ft.Text("A mentor's phone gets the basic details and notes only.", size=15),
        labelled("Assign a mentor", picker),
        ft.Row([secondary_button("Assign mentor", assign, icon=ft.Icons.PERSON_ADD)]),
    ]


def _sharing_controls(state: AppState, page: ft.Page) -> list[ft.Control]:
    """Coordinators and link workers: who outside the organisation can see this person, and why."""
    record = state.record
    if state.is_mentor or record is None or record.shared_by:
        return []
    controls: list[ft.Control] = [section("Sharing")]
    sharing = state.sharing
    if sharing is None:
        return [
            *controls,
            ft.Text("Connect to the server (and sync this person) to see and change who their record is shared with.",
                    size=15),
        ]  # fmt: skip
    if not sharing.active:
        controls.append(ft.Text("Only your organisation can see this record.", size=15))
    for share, statement in zip(sharing.active, sharing.statements, strict=True):

        async def confirmed(_: Any, share_id: str = share.share_id, name: str = share.partner_org_name) -> None:
            page.pop_dialog()
            await state.withdraw_share(share_id, name)

        def ask(_: Any, name: str = share.partner_org_name, do: Any = confirmed) -> None:
            page.show_dialog(
                ft.AlertDialog(
                    modal=True,
                    title=ft.Text(f"Withdraw sharing with {name}?"),
                    content=ft.Text(
                        f"{name} stops receiving this record at once and their phones delete it at their next "
                        "sync. What they have already read cannot be recalled. New notes use new keys they never get.",
                        size=16,
                    ),
                    actions=[
                        ft.TextButton("Cancel", on_click=lambda _: page.pop_dialog()),
                        ft.FilledButton("Withdraw", on_click=do),
                    ],
                )
            )

        controls.append(ft.Text(statement, size=16))
        actions = [secondary_button(f"Withdraw sharing with {share.partner_org_name}", ask)]
        if share.basis is ShareBasis.CONSENT:
            renew = secondary_button(
                f"Renew consent with {share.partner_org_name}",
                lambda _, share_id=share.share_id: state.start_renewing_consent(share_id),
                icon=ft.Icons.EVENT_REPEAT,
            )
            actions.insert(0, renew)
        controls.append(ft.Row(actions, wrap=True))
    for entry in sharing.records:
        controls.append(ft.Text(_consent_line(entry), size=14, color=ft.Colors.ON_SURFACE_VARIANT))
    controls.append(
        ft.Row(
            [
                secondary_button("Record consent", lambda _: state.start_recording_consent(), icon=ft.Icons.HANDSHAKE),
                secondary_button(
                    "Share without consent", lambda _: state.start_recording_consent(without_consent=True)
                ),
            ],
            wrap=True,
        )
    )
    return controls


def _consent_line(entry: ConsentEntry) -> str:
    """One consent record, as kept: "1 Dec 2026 - consent to Probation (basic), signed consent form, by Sam"."""
    who = ", ".join(entry.recipients) or "an organisation"
    tiers = " and ".join(tier.value for tier in entry.tiers)
    if entry.action == "withdrawn":
        text = f"{entry.consent_date} - consent withdrawn for {who}"
    elif entry.action == "renewed":
        how = CONSENT_RECORDED_HOW.get(entry.recorded_how, entry.recorded_how).lower()
        text = f"{entry.consent_date} - consent to {who} ({tiers}) renewed, {how}; for {entry.purposes}"
        if entry.review_date:
            text += f"; review by {entry.review_date}"
    elif entry.action == "without_consent":
        basis = LAWFUL_BASES.get(entry.lawful_basis, entry.lawful_basis).split(" (")[0].lower()
        text = f"{entry.consent_date} - shared with {who} ({tiers}) without consent: {basis}; {entry.reason}"
        text += f"; decided by {entry.decided_by}"
    else:
        how = CONSENT_RECORDED_HOW.get(entry.recorded_how, entry.recorded_how).lower()
        text = f"{entry.consent_date} - consent to {who} ({tiers}), {how}; for {entry.purposes}"
    return f"{text}. Recorded by {entry.author}."


def _recipient_boxes(state: AppState) -> list[ft.Checkbox]:
    directory = state.sharing.directory if state.sharing is not None else ()
    return [ft.Checkbox(label=entry.name, data=entry.org_id, value=False) for entry in directory]


def _tier_boxes() -> list[ft.Checkbox]:
    return [
        ft.Checkbox(label="Basic details (name, release, goals, notes mentors may see)", data="basic", value=True),
        ft.Checkbox(label="Full details (risk, health, date of birth, every note)", data="full", value=False),
    ]


def _chosen(boxes: list[ft.Checkbox]) -> list[str]:
    return [str(box.data) for box in boxes if box.value]


def _problem_text(state: AppState, *names: str) -> list[ft.Control]:
    return [
        ft.Text(state.form_problems[name], color=ft.Colors.ERROR, size=15)
        for name in names
        if name in state.form_problems
    ]


@dataclass
class _ConsentForm:
    """The questions consent is recorded with, on a first consent and on a renewal."""

    purposes: ft.TextField
    explained: ft.Checkbox
    consequences: ft.Checkbox
    how: ft.Dropdown
    date: ft.TextField
    review: ft.TextField

    def values(self) -> dict[str, Any]:
        return {
            "purposes": self.purposes.value or "",
            "explained": bool(self.explained.value),
            "consequences_explained": bool(self.consequences.value),
            "recorded_how": str(self.how.value or ""),
            "consent_date": self.date.value or "",
            "review_date": self.review.value or "",
        }

    def controls(self, state: AppState) -> list[ft.Control]:
        return [
            self.purposes,
            self.explained,
            *_problem_text(state, "explained"),
            self.consequences,
            *_problem_text(state, "consequences_explained"),
            labelled("How consent was recorded", self.how),
            self.date,
            self.review,
        ]


def _consent_form(state: AppState, *, explained_label: str, review_label: str) -> _ConsentForm:
    problems, draft = state.form_problems, state.draft
    purposes = field("Purposes of sharing", value=draft.get("purposes", ""), multiline=True,
                     error=problems.get("purposes"), hint="What the information will be used for")  # fmt: skip
    how = choice("How consent was recorded", CONSENT_RECORDED_HOW, value=draft.get("recorded_how") or None,
                 error=problems.get("recorded_how"))  # fmt: skip
    today = dt.datetime.fromtimestamp(state.now_ms() / 1000).date()
    date = field("Date of consent", value=draft.get("consent_date") or today.isoformat(), hint="YYYY-MM-DD",
                 error=problems.get("consent_date"))  # fmt: skip
    review = field(review_label, value=draft.get("review_date", ""), hint="YYYY-MM-DD",
                   error=problems.get("review_date"))  # fmt: skip
    for key, control in (("purposes", purposes), ("recorded_how", how), ("consent_date", date),
                         ("review_date", review)):  # fmt: skip
        keep_typed(state, control, key)
    return _ConsentForm(
        purposes,
        ft.Checkbox(label=explained_label, value=False),
        ft.Checkbox(label="I explained the likely consequences of sharing", value=False),
        how,
        date,
        review,
    )


def record_consent_screen(state: AppState, page: ft.Page) -> ft.Control:
    name = state.record.name if state.record and state.record.name else "this person"
    recipients, tiers = _recipient_boxes(state), _tier_boxes()
    form = _consent_form(
        state,
        explained_label="I explained what will be shared, why and with whom",
        review_label="Review or expiry date",
    )

    async def save(_: Any) -> None:
        await state.record_consent(recipients=_chosen(recipients), tiers=_chosen(tiers), **form.values())

    async def back(_: Any) -> None:
        if state.case_id:
            await state.open_person(state.case_id)

    no_one = [] if recipients else [ft.Text("There is no other organisation on this server to share with.", size=15)]
    return screen(
        ft.Row([back_button(back), ft.Text(f"Consent from {name}", size=22, weight=ft.FontWeight.BOLD, expand=True)]),
        ft.Text("Tick the organisations the person agrees may see their record.", size=15),
        section("Who may see it"),
        *no_one,
        *recipients,
        *_problem_text(state, "recipients"),
        section("What they may see"),
        *tiers,
        *_problem_text(state, "tiers"),
        *form.controls(state),
        ft.Row([primary_button("Record consent and share", save)]),
        text_button("Back", back),
    )


def renew_consent_screen(state: AppState, page: ft.Page) -> ft.Control:
    """Renew the consent a share rests on before it ends: what was agreed, asked again, and a new date."""
    name = state.record.name if state.record and state.record.name else "this person"
    partner = state.draft.get("partner") or "the organisation"
    form = _consent_form(
        state,
        explained_label="I explained again what is shared, why and with whom",
        review_label="New review or expiry date",
    )

    async def save(_: Any) -> None:
        await state.renew_consent(**form.values())

    async def back(_: Any) -> None:
        if state.case_id:
            await state.open_person(state.case_id)

    return screen(
        ft.Row([back_button(back), ft.Text(f"Renew consent: {name}", size=22, weight=ft.FontWeight.BOLD, expand=True)]),
        ft.Text(
            f"{partner} goes on seeing the same details. Ask {name} again, and record it. "
            "To change who sees it or which details, withdraw the sharing and record consent again.",
            size=15,
        ),
        *_problem_text(state, "share"),
        *form.controls(state),
        ft.Row([primary_button("Renew consent", save)]),
        text_button("Back", back),
    )


def share_without_consent_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems, draft = state.form_problems, state.draft
    name = state.record.name if state.record and state.record.name else "this person"
    recipients, tiers = _recipient_boxes(state), _tier_boxes()
    basis = choice("Lawful basis", LAWFUL_BASES, value=draft.get("lawful_basis") or None,
                   error=problems.get("lawful_basis"))  # fmt: skip
    reason = field("Reason", value=draft.get("reason", ""), multiline=True, error=problems.get("reason"))
    decided = field("Who decided", value=draft.get("decided_by", ""), error=problems.get("decided_by"))
    today = dt.datetime.fromtimestamp(state.now_ms() / 1000).date()
    date = field("Date of decision", value=draft.get("consent_date") or today.isoformat(), hint="YYYY-MM-DD",
                 error=problems.get("consent_date"))  # fmt: skip
    review = field("Review date (optional)", value=draft.get("review_date", ""), hint="YYYY-MM-DD",
                   error=problems.get("review_date"))  # fmt: skip
    for key, control in (("lawful_basis", basis), ("reason", reason), ("decided_by", decided),
                         ("consent_date", date), ("review_date", review)):  # fmt: skip
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.share_without_consent(
            recipients=_chosen(recipients),
            tiers=_chosen(tiers),
            lawful_basis=str(basis.value or ""),
            reason=reason.value or "",
            decided_by=decided.value or "",
            decision_date=date.value or "",
            review_date=review.value or "",
        )

    async def back(_: Any) -> None:
        if state.case_id:
            await state.open_person(state.case_id)

    return screen(
        ft.Row(
            [
                back_button(back),
                ft.Text(f"Share {name}'s record without consent", size=22, weight=ft.FontWeight.BOLD, expand=True),
            ]
        ),
        ft.Text(
            "Only on a lawful basis: a risk to life or of serious harm (vital interest), or a statutory duty "
            "such as MAPPA. Your coordinator sees every share made this way.",
            size=15,
        ),
        section("Who may see it"),
        *recipients,
        *_problem_text(state, "recipients"),
        section("What they may see"),
        *tiers,
        *_problem_text(state, "tiers"),
        labelled("Lawful basis", basis),
        reason,
        decided,
        date,
        review,
        ft.Row([primary_button("Share without consent", save)]),
        text_button("Back", back),
    )


def _export_controls(state: AppState, page: ft.Page) -> list[ft.Control]:
    """Coordinators: the person's whole record as a file, for a subject access request."""
    if state.profile is None or state.profile.role.value != "coordinator":
        return []

    async def export(_: Any) -> None:
        exported = await state.export_record()
        if exported is None:
            return
        saved = await ft.FilePicker().save_file(
            dialog_title="Save the record", file_name=exported.file_name, src_bytes=exported.content
        )
        # In a browser the file is downloaded and no path comes back.
        state.note_export_saved(exported.file_name, page.web or saved is not None)

    return [
        section("The person's right to see their record"),
        ft.Text(
            "Make a readable copy of everything held about this person, to give them on request. "
            "It is made on this device; the server cannot read the record.",
            size=15,
        ),
        ft.Row([secondary_button("Export record", export, icon=ft.Icons.DOWNLOAD)]),
    ]


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %Y")


def _closed_banner(state: AppState) -> list[ft.Control]:
    """At the top of a closed case's record, for link workers and coordinators (from the server)."""
    case_state = state.case_state
    if case_state is None or case_state.closed_at_ms is None:
        return []
    who = "" if state.is_coordinator else " Ask a coordinator to reopen it if you are working with them again."
    return [
        ft.Container(
            ft.Text(f"Case closed on {_day(case_state.closed_at_ms)}.{who}", size=15),
            bgcolor=ft.Colors.SECONDARY_CONTAINER,
            padding=12,
            border_radius=8,
        )
    ]


def _case_controls(state: AppState, page: ft.Page) -> list[ft.Control]:
    """Coordinators: close or reopen the person's case, erase the record, and the retention period."""
    if not state.is_coordinator:
        return []
    heading_row: list[ft.Control] = [section("Closing and erasing")]
    case_state = state.case_state
    if case_state is None:
        return [
            *heading_row,
            ft.Text("Connect to the server (and sync this person) to close the case or erase the record.", size=15),
        ]
    name = state.record.name if state.record is not None and state.record.name else "this person"

    async def close(_: Any) -> None:
        await state.close_case()

    async def reopen(_: Any) -> None:
        await state.reopen_case()

    async def erase_confirmed(_: Any) -> None:
        page.pop_dialog()
        await state.erase_record()

    def ask_erase(_: Any) -> None:
        page.show_dialog(
            ft.AlertDialog(
                modal=True,
                title=ft.Text(f"Erase {name}'s record?"),
                content=ft.Text(
                    "This cannot be undone. The record is deleted from the server now, and from every phone "
                    "of your team at its next sync, with the keys that open it. "
                    "What people have already read, or copied off a phone, cannot be recalled.",
                    size=16,
                ),
                actions=[
                    ft.TextButton("Cancel", on_click=lambda _: page.pop_dialog()),
                    ft.FilledButton(
                        "Erase for good", on_click=erase_confirmed, style=ft.ButtonStyle(bgcolor=ft.Colors.ERROR)
                    ),
                ],
            )
        )

    if case_state.closed_at_ms is not None and case_state.erase_after_ms is not None:
        status = (
            f"Case closed on {_day(case_state.closed_at_ms)}. "
            f"The record is erased after {_day(case_state.erase_after_ms)}."
        )
        toggle = secondary_button("Reopen case", reopen, icon=ft.Icons.LOCK_OPEN)
    else:
        status = f"Case open. Once closed, the record is kept {kept_for(case_state.retention_days)}, then erased."
        toggle = secondary_button("Close case", close, icon=ft.Icons.LOCK)
    days = field(
        "Keep closed cases (days)",
        value=state.draft.get("retention_days") or str(case_state.retention_days),
        hint="2192 days is six years",
        error=state.form_problems.get("retention_days"),
    )
    keep_typed(state, days, "retention_days")

    async def save_retention(_: Any) -> None:
        await state.set_retention_days(str(days.value or ""))

    return [
        *heading_row,
        ft.Text(status, size=15),
        ft.Row(
            [
                toggle,
                ft.OutlinedButton(
                    "Erase record",
                    icon=ft.Icons.DELETE_FOREVER,
                    on_click=ask_erase,
                    height=48,
                    style=ft.ButtonStyle(color=ft.Colors.ERROR),
                ),
            ],
            wrap=True,
        ),
        ft.Text("How long your organisation keeps every closed case:", size=15),
        days,
        ft.Row([secondary_button("Save retention period", save_retention)]),
    ]


# --- logging a contact ------------------------------------------------------------------------


def log_contact_screen(state: AppState, page: ft.Page) -> ft.Control:
    problems, draft = state.form_problems, state.draft
    when = field(
        "Date and time",
        value=draft.get("occurred_at") or state.default_contact_time(),
        hint="YYYY-MM-DD HH:MM",
        error=problems.get("occurred_at"),
    )
    where = choice("Where", CONTACT_SETTINGS, value=draft.get("setting") or None, error=problems.get("setting"))
    kind = choice(
        "Type of contact", CONTACT_TYPES, value=draft.get("contact_type") or None, error=problems.get("contact_type")
    )
    note = field("Note", value=draft.get("note", ""), multiline=True, error=problems.get("note"))
    basis = radio_choice(NOTE_BASIS, draft.get("basis") or "fact")
    is_mentor = state.profile is not None and state.profile.role.value == "peer_mentor"
    tier = radio_choice(
        {"basic": TIER_CHOICES["basic"]} if is_mentor else TIER_CHOICES,
        "basic" if is_mentor else (draft.get("tier") or "full"),
    )
    name = state.record.name if state.record and state.record.name else "this person"
    duration = choice("How long", CONTACT_DURATIONS, value=draft.get("duration") or None)
    talked_about = set(filter(None, draft.get("need_areas", "").split(",")))
    need_boxes = {
        area: ft.Checkbox(label=label, value=area in talked_about, label_style=ft.TextStyle(size=16))
        for area, label in NEED_AREAS.items()
    }

    def keep_needs(_: Any) -> None:
        state.keep_draft("need_areas", ",".join(area for area, box in need_boxes.items() if box.value))

    for box in need_boxes.values():
        box.on_change = keep_needs
    follow_up_on = field(
        "Follow up by",
        value=draft.get("follow_up_on", ""),
        hint="YYYY-MM-DD — leave empty for no follow-up",
        error=problems.get("follow_up_on"),
    )
    follow_up_action = field("What happens next", value=draft.get("follow_up_action", ""), hint="Ring housing options")
    for key, control in (
        ("occurred_at", when),
        ("setting", where),
        ("contact_type", kind),
        ("note", note),
        ("basis", basis),
        ("tier", tier),
        ("duration", duration),
        ("follow_up_on", follow_up_on),
        ("follow_up_action", follow_up_action),
    ):
        keep_typed(state, control, key)

    async def save(_: Any) -> None:
        await state.log_contact(
            occurred_at=when.value or "",
            setting=where.value or "",
            contact_type=kind.value or "",
            note=note.value or "",
            basis=basis.value or "fact",
            tier=tier.value or "full",
            duration=duration.value or "",
            need_areas=[area for area, box in need_boxes.items() if box.value],
            follow_up_on=(follow_up_on.value or "").strip(),
            follow_up_action=(follow_up_action.value or "").strip(),
        )

    async def back(_: Any) -> None:
        if state.case_id:
            await state.open_person(state.case_id)

    return screen(
        ft.Row([back_button(back), ft.Text(f"Contact with {name}", size=22, weight=ft.FontWeight.BOLD, expand=True)]),
        when,
        labelled("Where", where),
        labelled("Type of contact", kind),
        note,
        section("Is this fact or your opinion?"),
        basis,
        section("Who can see it"),
        tier,
        labelled("How long", duration),
        ft.ExpansionTile(
            title=ft.Text("Needs you talked about or worked on", size=16),
            subtitle=ft.Text("Optional", size=13),
            controls=list(need_boxes.values()),
            expanded=bool(talked_about),
        ),
        *([] if is_mentor else [section("Next step"), follow_up_on, follow_up_action]),
        ft.Row([primary_button("Save contact", save)]),
        text_button("Back", back),
    )


# --- devices ---------------------------------------------------------------------------------


def devices_screen(state: AppState, page: ft.Page) -> ft.Control:
    """This user's own phones and browsers (a coordinator manages the team's on the Team screen)."""

    async def back(_: Any) -> None:
        await state.go_home()

    me = state.profile.user_id if state.profile else None
    explanation = "The phones and browsers signed in as you. Sign out one you have lost or no longer use."
    if state.is_coordinator:
        explanation += " Your team's devices are on the Team screen (Desk, then Team)."
    cards = [
        device_card(page, device, state.now_ms(), state.sign_out_device)
        for device in state.devices
        if device.owner_user_id == me
    ]
    return screen(ft.Row([back_button(back), heading("Devices")]), ft.Text(explanation, size=16), *cards)


def audit_screen(state: AppState, page: ft.Page) -> ft.Control:
    async def back(_: Any) -> None:
        await state.go_home()

    rows: list[ft.Control] = [
        # One screen-reader node per event, not one run-on paragraph for the whole trail.
        ft.Semantics(
            container=True,
            content=ft.ListTile(
                title=ft.Text(event.text, size=16),
                subtitle=ft.Text(dt.datetime.fromtimestamp(event.at_ms / 1000).strftime("%a %d %b %Y, %H:%M"), size=14),
                dense=True,
            ),
        )
        for event in state.audit_events
    ]
    shared: list[ft.Control] = []
    if state.without_consent:
        shared = [section("Shared without consent"), *(ft.Text(line, size=15) for line in state.without_consent)]
    return screen(
        ft.Row([back_button(back), heading("Audit trail")]),
        *shared,
        ft.Text(
            "Who signed in, sent and received changes, and signed devices out, newest first. "
            "The server keeps this trail tamper-evident.",
            size=16,
        ),
        *(rows or [ft.Text("Nothing recorded yet.", size=16)]),
    )


SCREENS = {
    **DAY_SCREENS,
    "sign_in": sign_in_screen,
    "set_pin": set_pin_screen,
    "unlock": unlock_screen,
    "caseload": caseload_screen,
    "add_person": add_person_screen,
    "person": person_screen,
    "log_contact": log_contact_screen,
    "devices": devices_screen,
    "audit": audit_screen,
    "record_consent": record_consent_screen,
    "share_without_consent": share_without_consent_screen,
    "renew_consent": renew_consent_screen,
    **PLAN_SCREENS,
    **LEAD_SCREENS,
    **DIRECTORY_SCREENS,
    **DESK_SCREENS,
    **TEAM_SCREENS,
    **DASHBOARD_SCREENS,
    **OUTCOME_SCREENS,
}

__all__ = ["SCREENS"]
