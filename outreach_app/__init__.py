"""Gatepost's client: views -> state -> services -> storage / sync transport -> shared.

Only ``outreach_app.views`` imports flet; the services are plain Python.
"""
