"""Persistence: the only layer that builds queries.

- ``tables``: SQLModel tables in their own metadata (never cross the API)
- ``database``: engines (SQLite pragmas, BEGIN IMMEDIATE), Alembic ``migrate``
- ``organisations``, ``accounts``, ``assignments``, ``sync``: repository functions taking a ``Session``
"""
