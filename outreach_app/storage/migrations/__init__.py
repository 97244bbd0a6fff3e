"""Alembic migrations of the device database, run by ``LocalStore.open`` (no alembic.ini needed).

Add a revision by copying the newest file in ``versions/`` (set ``down_revision`` to its
``revision``); keep ``outreach_app/storage/tables.py`` in step.
"""
