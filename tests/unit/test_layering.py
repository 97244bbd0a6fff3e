"""Imports flow one way: views -> state -> services -> storage / sync -> shared.

Services never import flet, the server never imports the client, and ``shared`` imports
nothing of ours. Checked by reading every module's imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# For each layer, the first-party packages it must not import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "shared": ("outreach_app", "sync_server", "flet", "sqlmodel", "sqlalchemy", "httpx", "fastapi"),
    "sync_server": ("outreach_app", "flet"),
    "outreach_app/storage": (
        "outreach_app.services",
        "outreach_app.state",
        "outreach_app.views",
        "outreach_app.sync",
        "flet",
        "sync_server",
    ),
    "outreach_app/sync": (
        "outreach_app.services",
        "outreach_app.state",
        "outreach_app.views",
        "outreach_app.storage",
        "flet",
        "sync_server",
    ),
    "outreach_app/services": ("outreach_app.state", "outreach_app.views", "flet", "sync_server"),
    "outreach_app/state": ("outreach_app.views", "outreach_app.storage", "outreach_app.sync", "flet", "sync_server"),
    "outreach_app/views": (
        "outreach_app.storage",
        "outreach_app.sync",
        "sync_server",
        "httpx",
        "sqlmodel",
        "sqlalchemy",
    ),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(layer: str) -> None:
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no modules found in {layer}"
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imported_modules(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
    ]
    assert offences == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import flet as ft\nfrom outreach_app.storage import LocalStore\n", encoding="utf-8")
    assert imported_modules(module) == {"flet", "outreach_app.storage"}
