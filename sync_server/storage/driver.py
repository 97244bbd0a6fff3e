"""Statements the database driver runs as written, for the per-row hot paths of a push.

SQLAlchemy Core binds each parameter set through its compiled statement (a dictionary per row,
type processing per column): a push of 500 versions binds 20 columns of 1,000 rows, which cost
more than SQLite's own work. Here the SQL is built once per table and column list, in the
driver's parameter style, and rows go to the driver as tuples. A list of ids is one parameter:
a JSON array read with ``json_each`` on SQLite, an array on PostgreSQL (``= ANY``), so the
statement text does not change with the list's length.

Everything runs on the session's connection, inside its transaction.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Row

__all__ = ["insert_many", "select_where_in"]


def insert_many(connection: Connection, table: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert ``rows`` (each with the same keys, the column names) into ``table`` in one executemany."""
    if not rows:
        return
    columns = tuple(rows[0])
    statement = _insert_statement(connection.dialect.name, table, columns)
    values = itemgetter(*columns)  # a tuple of the columns, in C (one column: the value alone)
    tuples = [values(row) for row in rows] if len(columns) > 1 else [(row[columns[0]],) for row in rows]
    connection.exec_driver_sql(statement, tuples)


def select_where_in(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    key: str,
    values: Collection[str],
    *,
    where: Mapping[str, object] | None = None,
) -> Sequence[Row[Any]]:
    """``SELECT columns FROM table WHERE key IN values [AND column = value ...]``: rows with
    attribute access by column name."""
    if not values:
        return []
    conditions = dict(where or {})
    statement = _select_statement(connection.dialect.name, table, tuple(columns), key, tuple(conditions))
    ids: object = sorted(set(values))
    if connection.dialect.name == "sqlite":
        ids = json.dumps(ids)
    return connection.exec_driver_sql(statement, (ids, *conditions.values())).all()


def _placeholder(dialect: str) -> str:
    return "?" if dialect == "sqlite" else "%s"


def _quote(name: str) -> str:
    # Table and column names come from this package's own tables, never from a request.
    return f'"{name}"'


@lru_cache(maxsize=64)
def _insert_statement(dialect: str, table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(_quote(name) for name in columns)
    marks = ", ".join(_placeholder(dialect) for _ in columns)
    return f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})"  # noqa: S608 (no request text)


@lru_cache(maxsize=64)
def _select_statement(dialect: str, table: str, columns: tuple[str, ...], key: str, equal: tuple[str, ...]) -> str:
    mark = _placeholder(dialect)
    among = "IN (SELECT value FROM json_each(?))" if dialect == "sqlite" else "= ANY(%s)"
    conditions = [f"{_quote(key)} {among}", *(f"{_quote(name)} = {mark}" for name in equal)]
    names = ", ".join(_quote(name) for name in columns)
    return f"SELECT {names} FROM {_quote(table)} WHERE {' AND '.join(conditions)}"  # noqa: S608 (no request text)
