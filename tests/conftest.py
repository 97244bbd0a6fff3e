"""Suite-wide: the browser tests run last.

Playwright's synchronous API keeps an event loop running in the main thread for as long as its
session-wide browser is open, and ``asyncio.run`` refuses to start inside a running loop; so every
test that is not a browser test runs before the first one starts the browser.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
