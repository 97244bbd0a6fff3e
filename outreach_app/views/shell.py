"""The frame around every screen: the sync bar (always visible once unlocked) and the screen."""

from __future__ import annotations

from typing import Any

import flet as ft

from outreach_app.state import AppState, Notice, Screen
from outreach_app.state.navigation import TOP_LEVEL
from outreach_app.views.screens import SCREENS


def mount(page: ft.Page, state: AppState) -> None:
    """Attach the state to a page: build the frame and re-render when the state says so."""
    page.title = "Gatepost"
    page.padding = 0
    page.theme_mode = ft.ThemeMode.SYSTEM
    page.theme = ft.Theme(color_scheme_seed=ft.Colors.TEAL)
    page.dark_theme = ft.Theme(color_scheme_seed=ft.Colors.TEAL)

    status_icon = ft.Icon(ft.Icons.CLOUD_DONE_OUTLINED, size=22)
    status_text = ft.Text("", size=15, expand=True)
    progress = ft.ProgressBar(semantics_label="Sync progress", visible=False)

    async def sync_now(_: Any) -> None:
        await state.sync_now()

    sync_button = ft.FilledTonalButton("Sync now", icon=ft.Icons.SYNC, on_click=sync_now, height=44)
    bar = ft.Container(
        ft.Column(
            [ft.Row([status_icon, status_text, sync_button], spacing=8), progress],
            spacing=4,
        ),
        padding=ft.Padding.only(left=14, right=10, top=8, bottom=6),
        bgcolor=ft.Colors.SURFACE_CONTAINER_HIGH,
        visible=False,
    )
    content = ft.Container(expand=True)

    async def show_today(_: Any) -> None:
        await state.day.show_today()

    async def show_people(_: Any) -> None:
        await state.show_caseload()

    async def show_services(_: Any) -> None:
        await state.directory.show_services()

    async def show_desk(_: Any) -> None:
        await state.desk.show_desk()

    # The top-level screens, at the bottom where a thumb reaches them.
    today_tab = ft.FilledTonalButton("Today", icon=ft.Icons.TODAY, on_click=show_today, height=52, expand=True)
    people_tab = ft.FilledTonalButton(
        "People", icon=ft.Icons.PEOPLE_OUTLINE, on_click=show_people, height=52, expand=True
    )
    services_tab = ft.FilledTonalButton(
        "Services", icon=ft.Icons.STOREFRONT_OUTLINED, on_click=show_services, height=52, expand=True
    )
    # Coordinators only: conflicts to settle (and, later, the team and outcomes).
    desk_tab = ft.FilledTonalButton(
        "Desk", icon=ft.Icons.DASHBOARD_OUTLINED, on_click=show_desk, height=52, expand=True, visible=False
    )
    tabs = ft.Container(
        ft.Row([today_tab, people_tab, services_tab, desk_tab], spacing=6),
        padding=ft.Padding.symmetric(horizontal=14, vertical=8),
        bgcolor=ft.Colors.SURFACE_CONTAINER_HIGH,
        visible=False,
    )
    page.add(ft.SafeArea(ft.Column([bar, content, tabs], spacing=0, expand=True), expand=True))

    def render_tabs() -> None:
        tabs.visible = state.screen in TOP_LEVEL
        desk_tab.visible = state.is_coordinator
        four = desk_tab.visible
        for tab, screen in (
            (today_tab, Screen.TODAY),
            (people_tab, Screen.CASELOAD),
            (services_tab, Screen.SERVICES),
            (desk_tab, Screen.DESK),
        ):
            chosen = state.screen is screen
            tab.bgcolor = ft.Colors.PRIMARY_CONTAINER if chosen else None
            tab.style = ft.ButtonStyle(
                text_style=ft.TextStyle(size=15 if four else 16, weight=ft.FontWeight.W_700 if chosen else None),
                # three (four for a coordinator) buttons side by side on a phone
                padding=ft.Padding.symmetric(horizontal=4 if four else 8),
            )

    def render_bar() -> None:
        bar.visible = state.unlocked
        status_text.value = state.sync_text()
        status = state.sync_status
        if state.syncing:
            status_icon.icon = ft.Icons.SYNC
        elif status is not None and status.pending and status.offline:
            status_icon.icon = ft.Icons.CLOUD_OFF
        elif status is not None and status.pending:
            status_icon.icon = ft.Icons.CLOUD_UPLOAD_OUTLINED
        else:
            status_icon.icon = ft.Icons.CLOUD_DONE_OUTLINED
        progress.visible = state.syncing or state.busy
        progress.value = state.sync_progress if state.syncing else None
        sync_button.disabled = state.syncing
        sync_button.content = "Sign in" if state.session_expired else "Sync now"

    def on_sync_bar() -> None:
        render_bar()
        page.update()

    # The screen on show, so that redrawing it (after a save or a background sync) keeps its
    # scrolling column: the worker's place on it stays where it was instead of jumping to the top.
    shown: dict[str, object] = {"where": None}

    def on_screen() -> None:
        page.theme_mode = {"dark": ft.ThemeMode.DARK, "light": ft.ThemeMode.LIGHT}.get(state.theme, ft.ThemeMode.SYSTEM)
        built = SCREENS[state.screen.value](state, page)
        where = (state.screen, state.case_id)
        current = content.content
        if (
            shown["where"] == where
            and isinstance(current, ft.Container)
            and isinstance(current.content, ft.Column)
            and isinstance(built, ft.Container)
            and isinstance(built.content, ft.Column)
        ):
            current.content.controls = built.content.controls  # same column, new contents
        else:
            content.content = built
        shown["where"] = where
        render_bar()
        render_tabs()
        page.update()

    def on_notice(notice: Notice) -> None:
        page.show_dialog(
            ft.SnackBar(
                ft.Text(notice.text, size=16, color=ft.Colors.ON_ERROR_CONTAINER if notice.is_error else None),
                show_close_icon=True,
                bgcolor=ft.Colors.ERROR_CONTAINER if notice.is_error else None,
                duration=ft.Duration(seconds=6 if notice.is_error else 3),
            )
        )

    state.on_sync_bar = on_sync_bar
    state.on_screen = on_screen
    state.on_notice = on_notice
