"""Hot statements: built once per dialect, and on SQLite run straight on the sqlite3 driver.

A tap runs about eight statements. Building a statement took longer than running it (the
answers upsert's `excluded` alone ~127 us), hence `prebuilt`. Then SQLAlchemy's execution of a
built statement (compiled-cache lookup, execution context, parameter and result processing)
still cost ~30 us per statement on SQLite, where sqlite3 itself takes a few: `execute` runs a
prebuilt statement's SQL, compiled once by SQLAlchemy, on the connection's own sqlite3
connection, with the same type processing (SQLAlchemy's bind and result processors) and the
same errors (sqlite3's, wrapped as SQLAlchemy's `DBAPIError` subclasses). On PostgreSQL, and on
SQLite through aiosqlite (the rare paths), it is `conn.execute`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

_BUILT: dict[tuple[str, str], object] = {}
# SQLite (pysqlite) only, per prebuilt statement (they live as long as the process, so their
# id names them): None = not plain (expanding or RETURNING), run through SQLAlchemy.
_PLANS: dict[int, _Plan | None] = {}


def prebuilt(conn, key: str, build: Callable[[Any], Any]):
    """The statement `build(conn)` makes, built once per dialect and kept: a hot statement is
    cheaper to run than to build; its parameters are bindparams (named b_*, apart from the
    column names)."""
    statement = _BUILT.get((key, conn.dialect.name))
    if statement is None:
        statement = _BUILT[(key, conn.dialect.name)] = build(conn)
    return statement


class _Plan:
    """A statement compiled for SQLite: its SQL with `?` placeholders, the parameter names in
    their order with their defaults and bind processors, and the row type with its result
    processors."""

    __slots__ = ("binds", "defaults", "names", "results", "row", "sql")

    def __init__(self, conn, statement) -> None:
        compiled = statement.compile(dialect=conn.dialect)
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)
        self.defaults = compiled.construct_params(_check=False)
        processors = compiled._bind_processors
        self.binds = tuple(processors.get(name) for name in self.names)
        columns = compiled._result_columns
        # Only the columns whose type converts what sqlite3 returns (dates, JSON, booleans):
        # a tap reads ~40 values, most of them plain text and numbers.
        self.results = tuple((i, processor) for i, c in enumerate(columns)
                             if (processor := c.type._cached_result_processor(
                                 conn.dialect, None)) is not None)
        self.row = namedtuple("Row", [c.keyname for c in columns], rename=True) \
            if columns else None


def _plan(conn, statement) -> _Plan | None:
    key = id(statement)
    if key in _PLANS:
        return _PLANS[key]
    compiled = statement.compile(dialect=conn.dialect)
    plain = compiled.positiontup is not None and not any(
        b.expanding for b in compiled.binds.values()) and not compiled.effective_returning
    _PLANS[key] = plan = _Plan(conn, statement) if plain else None
    return plan


class Rows:
    """What the units read of a result: rowcount, first(), all(), scalar()."""

    __slots__ = ("_plan", "_rows", "rowcount")

    def __init__(self, cursor, plan: _Plan) -> None:
        self.rowcount = cursor.rowcount
        self._plan = plan
        self._rows = cursor.fetchall() if plan.row is not None else []

    def _make(self, raw: tuple):
        if self._plan.results:
            raw = list(raw)
            for i, processor in self._plan.results:
                raw[i] = processor(raw[i])
        return tuple.__new__(self._plan.row, raw)

    def all(self) -> list:
        return [self._make(raw) for raw in self._rows]

    def first(self):
        return self._make(self._rows[0]) if self._rows else None

    def scalar(self):
        row = self.first()
        return None if row is None else row[0]


def execute(conn, statement, params: dict[str, Any]):
    """Run a statement from `prebuilt` with `params` (its b_* names) in the connection's
    transaction; a result with rowcount, first(), all() and scalar(). Raises SQLAlchemy's
    DBAPIError subclasses (IntegrityError ...) on both paths. Only for prebuilt statements:
    their plans are kept by identity."""
    if conn.dialect.driver != "pysqlite":
        return conn.execute(statement, params)
    plan = _plan(conn, statement)
    if plan is None:
        return conn.execute(statement, params)
    if not conn.in_transaction():
        conn.begin()  # as SQLAlchemy's autobegin would (BEGIN IMMEDIATE: store._sqlite_begin)
    values = {**plan.defaults, **params}
    args = tuple(value if bind is None else bind(value)
                 for bind, value in zip(plan.binds, (values[n] for n in plan.names),
                                        strict=True))
    driver = conn.connection.dbapi_connection
    try:
        cursor = driver.execute(plan.sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(plan.sql, args, exc, conn.dialect.loaded_dbapi.Error) from exc
    try:
        return Rows(cursor, plan)
    finally:
        cursor.close()
