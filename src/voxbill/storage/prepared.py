"""Hot-path SQL built once, compiled once per dialect, run straight on the DBAPI cursor.

SQLAlchemy Core spends far more CPU building, caching and wrapping a statement than the
database spends running it. A :class:`Prepared` statement is Core (so every column type
comes from the schema), compiled once per dialect; each execution applies the types' own
bind and result processors, so stored values are the same bytes as through Core, and runs
on the caller's connection — the same transaction. Errors surface as through Core: a
DBAPI error becomes SQLAlchemy's (``IntegrityError``…), a refusal raised while binding a
value (an amount out of range) is raised as it is. PostgreSQL prepares the statements
server-side by itself after a few runs (psycopg's ``prepare_threshold``).

What the driver would redo on every execution is done once: a DBAPI connection keeps one
cursor for these statements (in its pool record's ``info``, which the pool clears when it
replaces the connection); whether a statement returns rows, and its columns' result
processors, are learnt from its first execution (``cursor.description`` builds objects
on every read); on PostgreSQL the parameters are positional (``%s``, compiled so), and
several rows are inserted by one multi-row ``VALUES`` statement (one variant per row
count, cached) and a few rows updated by plain executions, not ``executemany`` (psycopg
runs it in pipeline mode, which costs more than the two or three rows it writes).

IN-lists: :func:`among` is an expanding ``IN`` (one compiled variant per list length,
cached). On PostgreSQL ``= ANY(:ids)`` would be one statement for any length, but the
server never settles on a generic plan for it (its estimate of an array parameter's length
makes the generic plan look dearer than each custom one), so every execution was planned
again: ~50 µs of server CPU each, against ~5 µs for ``IN (%s, %s)`` planned once.
"""

from __future__ import annotations

import copy
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Insert,
    Integer,
    String,
    Table,
    Values,
    bindparam,
    cast,
    column,
    exc,
    literal_column,
    update,
    values,
)
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import Executable

from voxbill.domain.errors import UnstorableValue, VoxbillError

__all__ = [
    "MOST_ROWS",
    "Prepared",
    "RowsUpdate",
    "among",
    "executions",
    "rows_params",
    "run_script",
    "uncounted",
    "value_rows",
]

Params = Mapping[str, Any]
Build = Callable[[str], Any]
_Processor = Callable[[Any], Any] | None


class _Count:
    """Statements run through this module (``executemany`` counts once): for benchmarks."""

    value = 0


executions = _Count()


def among(column: ColumnElement[Any], name: str, dialect_name: str) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name`` (never empty: skip the statement);
    the same expanding ``IN`` on every dialect (``dialect_name``: see the module's notes)."""
    del dialect_name
    return column.in_(bindparam(name, expanding=True))


def _instant(type_: Any) -> bool:
    try:
        return bool(type_.python_type is datetime)
    except NotImplementedError:
        return False


def _remembering(proc: _Processor) -> _Processor:
    """An instant's ``proc`` answering a repeat of its last value at once: a transaction
    binds its one ``now`` many times, and turning an instant into SQLite text is not free."""
    if proc is None:
        return None
    memo: list[tuple[Any, Any]] = [(None, None)]

    def remembered(value: Any) -> Any:
        seen, result = memo[0]
        if seen is value and value is not None:
            return result
        result = proc(value)
        memo[0] = (value, result)
        return result

    return remembered


_GIVEN: Any = object()  # a slot's value comes from the caller's parameters
_Slot = tuple[str, int, _Processor, Any]  # name, list index (-1: none), processor, constant


class _Variant:
    """One SQL text and how to turn named parameters into what the driver takes."""

    __slots__ = ("named", "slots", "sql")

    def __init__(self, sql: str, slots: list[_Slot], named: bool) -> None:
        self.sql, self.slots, self.named = sql, slots, named

    def bind(self, params: Params) -> Any:
        out = []
        for name, index, proc, const in self.slots:
            if const is not _GIVEN:
                out.append(const)
                continue
            value = params[name] if index < 0 else params[name][index]
            out.append(value if proc is None else proc(value))
        if self.named:
            return dict(zip((slot[0] for slot in self.slots), out, strict=True))
        return out


_MOST_VALUES = 64  # rows of one multi-row VALUES insert (more: executemany)
_FEW_UPDATES = 8  # rows updated one execution each (more: executemany)


def _positional(dialect: Dialect) -> Dialect:
    """``dialect`` compiling ``%s`` placeholders (psycopg takes a list: nothing to reorder)."""
    if dialect.name != "postgresql" or dialect.paramstyle != "pyformat":
        return dialect
    found = copy.copy(dialect)
    found.paramstyle = "format"
    found.positional = True
    return found


def _values_group(sql: str) -> tuple[int, int] | None:
    """Where the one ``(…)`` of ``INSERT … VALUES (…)`` is, if every placeholder is in it."""
    at = sql.find(" VALUES (")
    if at < 0 or "%%" in sql or "'" in sql:
        return None
    start = at + len(" VALUES ")
    depth = 0
    for end in range(start, len(sql)):
        if sql[end] == "(":
            depth += 1
        elif sql[end] == ")":
            depth -= 1
            if depth == 0:
                group = sql[start : end + 1]
                return (start, end + 1) if group.count("%s") == sql.count("%s") else None
    return None


class _Compiled:
    """A statement compiled for one dialect: its variants and its row type."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        self.dialect = dialect
        columns = list(getattr(statement, "exported_columns", ()))
        if isinstance(statement, Insert) and not columns:
            statement = statement.inline()  # no implicit RETURNING of the new id: unread
        self.compiled = statement.compile(dialect=_positional(dialect))
        self.procs: dict[str, _Processor] = {}
        self.consts: dict[str, Any] = {}  # literals of the statement, processed once
        self.expanding: list[str] = []
        for bind, name in self.compiled.bind_names.items():
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            proc = _remembering(proc) if _instant(bind.type) else proc
            self.procs[name] = proc
            if bind.expanding:
                self.expanding.append(name)
            elif not bind.required:
                value = bind.effective_value
                self.consts[name] = value if proc is None or value is None else proc(value)
        self.named = self.compiled.positiontup is None
        self.variants: dict[tuple[int, ...], _Variant] = {}
        self.multi: dict[int, str | None] = {}  # rows -> multi-row VALUES text (PostgreSQL)
        self.insert = isinstance(statement, Insert)
        self.types = [c.type for c in columns]
        names = [c.key for c in columns]
        self.row: Any = namedtuple("Row", names, rename=True) if columns else None
        self.results: list[_Processor] | None = None
        self.fetch: bool | None = None  # the statement returns rows (known once run)

    def variant(self, params: Params) -> _Variant:
        if not self.expanding and self.variants:
            return self.variants[()]
        key = tuple(len(params[n]) for n in self.expanding)
        found = self.variants.get(key)
        if found is None:
            found = self.variants[key] = self._variant(params)
        return found

    def _slot(self, name: str, index: int = -1) -> _Slot:
        return (name, index, self.procs[name], self.consts.get(name, _GIVEN))

    def _variant(self, params: Params) -> _Variant:
        if self.named:
            slots = [self._slot(name) for name in self.procs]
            return _Variant(self.compiled.string, slots, named=True)
        if not self.expanding:
            order = self.compiled.positiontup or []
            return _Variant(self.compiled.string, [self._slot(n) for n in order], False)
        state = self.compiled.construct_expanded_state(dict(params))
        origin = {
            expanded: (name, index)
            for name, names in state.parameter_expansion.items()
            for index, expanded in enumerate(names)
        }
        slots = [self._slot(*origin.get(p, (p, -1))) for p in state.positiontup or []]
        return _Variant(state.statement, slots, named=False)

    def rows_insert(self, variant: _Variant, count: int) -> str | None:
        """``variant`` inserting ``count`` rows in one statement (PostgreSQL), if it can."""
        if count in self.multi:
            return self.multi[count]
        found = None
        where = _values_group(variant.sql) if self.insert and not variant.named else None
        if where is not None and 1 < count <= _MOST_VALUES:
            start, end = where
            group = variant.sql[start:end]
            found = variant.sql[:start] + ", ".join([group] * count) + variant.sql[end:]
        self.multi[count] = found
        return found

    def shape(self, raw: list[Any], cursor: Any) -> list[Any]:
        if self.row is None:
            return raw
        if self.results is None:
            dialect = self.dialect
            self.results = [
                t.dialect_impl(dialect).result_processor(dialect, d[1])
                for t, d in zip(self.types, cursor.description, strict=True)
            ]
        procs = self.results
        make = self.row._make
        if not any(procs):
            return [make(r) for r in raw]
        return [
            make([v if p is None or v is None else p(v) for v, p in zip(r, procs, strict=True)])
            for r in raw
        ]


_CURSOR = "voxbill.prepared.cursor"


def _cursor(conn: Connection) -> Any:
    """The cursor these statements use on ``conn``'s DBAPI connection (one per connection:
    kept in the pool record's ``info``, cleared whenever the pool replaces the connection;
    the connection it was made on is checked too)."""
    proxied = conn.connection
    dbapi = proxied.driver_connection
    info = proxied.info
    held = info.get(_CURSOR)
    if held is not None and held[0] is dbapi:
        return held[1]
    assert dbapi is not None
    cursor = dbapi.cursor()
    info[_CURSOR] = (dbapi, cursor)
    return cursor


@contextmanager
def uncounted(dbapi_connection: Any) -> Iterator[None]:
    """psycopg neither prepares nor counts what runs inside: it would forget every prepared
    statement of the connection (and send ``DEALLOCATE ALL``) on the first ``ROLLBACK``
    it counts, e.g. a savepoint's. Other drivers: nothing to do."""
    threshold = getattr(dbapi_connection, "prepare_threshold", None)
    if threshold is None:
        yield
        return
    dbapi_connection.prepare_threshold = None
    try:
        yield
    finally:
        dbapi_connection.prepare_threshold = threshold


def run_script(conn: Connection, statements: Sequence[str]) -> None:
    """Statements without parameters (savepoints, settings) on ``conn``: one round trip for
    all of them on PostgreSQL (the simple query protocol takes several), never prepared
    (see :func:`uncounted`); one by one elsewhere."""
    cursor = _cursor(conn)
    postgres = conn.dialect.name == "postgresql"
    for sql in ["; ".join(statements)] if postgres else statements:
        try:
            with uncounted(cursor.connection):
                cursor.execute(sql)
        except Exception as err:
            raise _wrapped(conn, sql, None, err) from err


class Prepared:
    """A hot-path statement; ``build`` is Core, or a function of the dialect's name."""

    def __init__(self, build: Executable | Build) -> None:
        self._build = build
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is None:
            build = self._build
            statement = build if isinstance(build, Executable) else build(dialect.name)
            found = self._compiled[key] = _Compiled(statement, dialect)
        return found

    def rows(self, conn: Connection, params: Params | None = None) -> list[Any]:
        """Every row (attribute access by column key); [] for a statement without rows."""
        found: list[Any] = self._execute(conn, params or {})
        return found

    def first(self, conn: Connection, params: Params | None = None) -> Any | None:
        found = self._execute(conn, params or {})
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Params | None = None) -> Any:
        found = self._execute(conn, params or {})
        return found[0][0] if found else None

    def run(self, conn: Connection, params: Params | None = None) -> None:
        self._execute(conn, params or {})

    def run_many(self, conn: Connection, params: Sequence[Params]) -> None:
        """One statement for several parameter sets (nothing to do for none)."""
        if params:
            self._execute_many(conn, params)

    def _execute(self, conn: Connection, params: Params) -> Any:
        compiled = self._for(conn.dialect)
        variant = compiled.variant(params)
        bound: Any = None
        try:
            bound = variant.bind(params)
            cursor = _cursor(conn)
            cursor.execute(variant.sql, bound)
            executions.value += 1
            fetch = compiled.fetch
            if fetch is None:
                fetch = compiled.fetch = cursor.description is not None
            raw = cursor.fetchall() if fetch else None
        except (VoxbillError, exc.SQLAlchemyError):
            raise
        except Exception as err:
            raise _wrapped(conn, variant.sql, bound, err) from err
        return [] if raw is None else compiled.shape(raw, cursor)

    def _execute_many(self, conn: Connection, many: Sequence[Params]) -> None:
        compiled = self._for(conn.dialect)
        variant = compiled.variant(many[0])
        sql, bound = variant.sql, None
        try:
            cursor = _cursor(conn)
            postgres = conn.dialect.name == "postgresql"
            rows = compiled.rows_insert(variant, len(many)) if postgres else None
            if postgres and len(many) == 1:
                bound = variant.bind(many[0])
                cursor.execute(sql, bound)
            elif rows is not None:
                sql, bound = rows, [value for params in many for value in variant.bind(params)]
                cursor.execute(sql, bound)
            elif postgres and len(many) <= _FEW_UPDATES:
                bound = [variant.bind(p) for p in many]
                for one in bound:
                    cursor.execute(sql, one)
            else:
                bound = [variant.bind(p) for p in many]
                cursor.executemany(sql, bound)
            executions.value += 1
        except (VoxbillError, exc.SQLAlchemyError):
            raise
        except Exception as err:
            raise _wrapped(conn, sql, bound, err) from err


def _wrapped(conn: Connection, sql: str, bound: Any, err: Exception) -> Exception:
    """``err`` as SQLAlchemy would raise it (a DBAPI error as its ``IntegrityError``…);
    a number the sqlite3 driver cannot bind (``OverflowError``: an id past 2**63) is bad
    input, as PostgreSQL's refusal of it is (``UnstorableValue``), never a 500."""
    if isinstance(err, OverflowError):
        return UnstorableValue()
    dbapi_error = conn.dialect.loaded_dbapi.Error
    if isinstance(err, dbapi_error):
        return exc.DBAPIError.instance(sql, bound, err, dbapi_error, dialect=conn.dialect)
    return exc.StatementError(str(err), sql, bound, err)


#: Most rows one statement binds as a ``VALUES`` list (more: one statement each, or
#: ``executemany``).
MOST_ROWS = _MOST_VALUES


def value_rows(
    name: str,
    table: Table,
    names: Sequence[str],
    count: int,
    *,
    prefix: str = "",
    column_of: Mapping[str, str] | None = None,
    ordinal: bool = False,
) -> Values:
    """``(VALUES …) AS name (names…)``: ``count`` rows of parameters, each cast to the type
    of its column of ``table`` (``column_of``: a name's column, where it differs), row i's
    value of ``n`` bound as ``f"{prefix}{n}_{i}"``. ``ordinal``: a first column ``n``
    numbering the rows (0, 1…), to keep their order where a query would not."""

    def type_of(n: str) -> Any:
        return table.c[(column_of or {}).get(n, n)].type

    def cast_to(n: str) -> Any:
        # a string cast to VARCHAR(n) would be cut to size, silently, where the column
        # refuses it: cast to the unbounded type, and the column checks the length
        found = type_of(n)
        return String() if isinstance(found, String) and found.length else found

    rows = [
        (
            *([literal_column(str(i), Integer)] if ordinal else []),
            *(cast(bindparam(f"{prefix}{n}_{i}", type_=type_of(n)), cast_to(n)) for n in names),
        )
        for i in range(count)
    ]
    columns = [column(n, type_of(n)) for n in names]
    if ordinal:
        columns.insert(0, column("n", Integer))
    return values(*columns, name=name).data(rows)


def rows_params(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], prefix: str = ""
) -> dict[str, Any]:
    """The parameters of :func:`value_rows` for ``rows`` (each has every name)."""
    return {f"{prefix}{n}_{i}": row[n] for i, row in enumerate(rows) for n in names}


class RowsUpdate:
    """Rows of ``table`` found by ``key`` (bound as ``param``), each set to its own values
    of the columns ``names``. On PostgreSQL several distinct rows are one statement,
    ``UPDATE … FROM (VALUES …)`` (one per row count, cached; the rows must be locked
    already: the order it writes them in is the planner's); elsewhere ``executemany``."""

    def __init__(self, table: Table, key: str, param: str, names: Sequence[str]) -> None:
        self._table, self._key, self._param, self._names = table, key, param, tuple(names)
        self._one = Prepared(
            update(table)
            .where(table.c[key] == bindparam(param))
            .values({n: bindparam(n, type_=table.c[n].type) for n in self._names})
        )
        self._by_count: dict[int, Prepared] = {}

    def _rows(self, count: int) -> Prepared:
        found = self._by_count.get(count)
        if found is None:
            names = (self._param, *self._names)
            given = value_rows("v", self._table, names, count, column_of={self._param: self._key})
            found = self._by_count[count] = Prepared(
                update(self._table)
                .where(self._table.c[self._key] == given.c[self._param])
                .values({n: given.c[n] for n in self._names})
            )
        return found

    def run(self, conn: Connection, rows: Sequence[Params]) -> None:
        """Nothing to do for no rows; every row has ``param`` and the ``names``."""
        count = len(rows)
        if (
            count < 2
            or count > _MOST_VALUES
            or conn.dialect.name != "postgresql"
            or len({row[self._param] for row in rows}) != count
        ):
            self._one.run_many(conn, rows)
            return
        self._rows(count).run(conn, rows_params(rows, (self._param, *self._names)))
