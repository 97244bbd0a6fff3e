"""What the worker is doing and what the screens show; calls the services, never flet."""

from outreach_app.state.app_state import AppState, Notice, Screen, kept_for, sync_status_text, time_ago

__all__ = ["AppState", "Notice", "Screen", "kept_for", "sync_status_text", "time_ago"]
