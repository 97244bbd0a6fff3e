"""Small building blocks shared by the screens: phone-sized, labelled, large touch targets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import flet as ft

TOUCH_HEIGHT = 52
Handler = Callable[[Any], Awaitable[None] | None]


def primary_button(text: str, on_click: Handler, *, icon: Any = None) -> ft.Control:
    return ft.FilledButton(text, icon=icon, on_click=on_click, height=TOUCH_HEIGHT, expand=True)


def secondary_button(text: str, on_click: Handler, *, icon: Any = None) -> ft.Control:
    return ft.OutlinedButton(text, icon=icon, on_click=on_click, height=TOUCH_HEIGHT)


def text_button(text: str, on_click: Handler) -> ft.Control:
    return ft.TextButton(text, on_click=on_click, height=TOUCH_HEIGHT)


def field(
    label: str,
    *,
    value: str = "",
    error: str | None = None,
    password: bool = False,
    multiline: bool = False,
    hint: str | None = None,
    keyboard: ft.KeyboardType | None = None,
    helper: str | None = None,
) -> ft.TextField:
    return ft.TextField(
        label=label,
        value=value,
        error=error,
        password=password,
        can_reveal_password=password,
        multiline=multiline,
        min_lines=3 if multiline else None,
        max_lines=8 if multiline else None,
        hint_text=hint,
        helper=helper,
        keyboard_type=keyboard,
        text_size=17,
    )


def choice(
    label: str, options: Mapping[str, str], *, value: str | None = None, error: str | None = None
) -> ft.Dropdown:
    return ft.Dropdown(
        label=label,
        value=value,
        error_text=error,
        options=[ft.DropdownOption(key=key, text=text) for key, text in options.items()],
        expand=True,
        menu_height=420,
    )


def labelled(label: str, control: ft.Control) -> ft.Control:
    """Name a control that Flutter leaves unnamed (a dropdown) for screen readers and tests."""
    return ft.Semantics(label=label, content=control)


def radio_choice(options: Mapping[str, str], value: str) -> ft.RadioGroup:
    return ft.RadioGroup(
        value=value,
        content=ft.Column([ft.Radio(value=key, label=text) for key, text in options.items()], spacing=0),
    )


def heading(text: str) -> ft.Control:
    return ft.Text(text, size=24, weight=ft.FontWeight.BOLD)


def section(text: str) -> ft.Control:
    return ft.Text(text, size=18, weight=ft.FontWeight.W_600)


def back_button(on_click: Handler) -> ft.Control:
    return ft.IconButton(
        icon=ft.Icon(ft.Icons.ARROW_BACK, semantics_label="Back"),
        on_click=on_click,
        icon_size=28,
        width=TOUCH_HEIGHT,
        height=TOUCH_HEIGHT,
    )


def screen(*controls: ft.Control) -> ft.Control:
    return ft.Container(
        content=ft.Column(
            list(controls),
            spacing=14,
            scroll=ft.ScrollMode.AUTO,
            expand=True,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        ),
        padding=ft.Padding.symmetric(horizontal=16, vertical=12),
        expand=True,
    )
