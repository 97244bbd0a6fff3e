"""Flet views: functions that build controls from ``AppState`` and send intents back to it.

Views never touch storage or the network. Every control a worker uses has a visible label or a
semantics label: screen-reader users need them, and the browser tests find controls by them.
"""

from outreach_app.views.shell import mount

__all__ = ["mount"]
