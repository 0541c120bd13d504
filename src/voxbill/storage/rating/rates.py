"""Rate plans in the database: bulk writes fast enough for million-row decks.

:class:`SqlRateRepository` is the rating context's repository; the module functions it
delegates to take the transaction's connection (the raw driver paths for SQLite and
PostgreSQL live here, behind it)."""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from voxbill.domain.errors import InvalidMoney
from voxbill.domain.money import STORAGE_PLACES, RoundingMethod, canonical
from voxbill.domain.rate_changes import PriceChange, RateKey, RecordedChange
from voxbill.domain.rates import ImportRecord, PlanRecord, Rate, RatePlan, StoredRate
from voxbill.domain.time_profile import TimeProfile, parse_time_profile
from voxbill.storage.schema import accounts, rate_changes, rate_imports, rate_plans, rates

_SCALE = Decimal(10) ** STORAGE_PLACES
_UNIT = Decimal(1).scaleb(-STORAGE_PLACES)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_COLUMNS = (
    "plan_id",
    "prefix",
    "destination",
    "rate",
    "connect_fee",
    "initial_rate",
    "initial_increment",
    "increment",
    "min_duration",
    "grace",
    "effective_from",
    "effective_to",
    "time_profile",
)


def _plan_record(row: Any) -> PlanRecord:
    holidays = frozenset(date.fromisoformat(d) for d in row.holidays.split(",") if d)
    return PlanRecord(
        row.id,
        row.name,
        row.currency,
        row.decimals,
        RoundingMethod(row.rounding),
        row.timezone,
        holidays,
        row.version,
        row.operator_id,
        row.owner_account_id,
    )


def owned_by(operator_id: int | None) -> ColumnElement[bool]:
    """The plans of one operator; ``None``: the plans no operator owns yet."""
    column = rate_plans.c.operator_id
    return column.is_(None) if operator_id is None else column == operator_id


def find_plan(conn: Connection, operator_id: int | None, name: str) -> PlanRecord | None:
    """The operator's plan of that name: another operator's plans do not exist here."""
    query = select(rate_plans).where(owned_by(operator_id), rate_plans.c.name == name)
    row = conn.execute(query).first()
    return None if row is None else _plan_record(row)


def plan_records(
    conn: Connection,
    operator_id: int | None,
    *,
    names: Collection[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[PlanRecord]:
    """The operator's plans by name (those named in ``names`` when given): the ones
    after the name ``after``, at most ``limit`` (keyset over the operator's unique
    ``(operator_id, name)`` index)."""
    query = select(rate_plans).where(owned_by(operator_id))
    if names is not None:
        query = query.where(rate_plans.c.name.in_(sorted(names)))
    if after is not None:
        query = query.where(rate_plans.c.name > after)
    query = query.order_by(rate_plans.c.name)
    if limit is not None:
        query = query.limit(limit)
    return [_plan_record(row) for row in conn.execute(query)]


def list_plans(
    conn: Connection,
    operator_id: int | None,
    *,
    names: Collection[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[tuple[PlanRecord, int]]:
    """The operator's plans, by name, with their row counts (a page as
    :func:`plan_records`: only its plans' rates are counted)."""
    plans = plan_records(conn, operator_id, names=names, after=after, limit=limit)
    if not plans:
        return []
    query = (
        select(rates.c.plan_id, func.count())
        .where(rates.c.plan_id.in_([p.id for p in plans]))
        .group_by(rates.c.plan_id)
    )
    counts: dict[int, int] = {int(row[0]): int(row[1]) for row in conn.execute(query)}
    return [(p, counts.get(p.id, 0)) for p in plans]


def count_rates(conn: Connection, plan_id: int) -> int:
    query = select(func.count()).select_from(rates).where(rates.c.plan_id == plan_id)
    return int(conn.execute(query).scalar_one())


def plan_version(conn: Connection, operator_id: int | None, name: str) -> int | None:
    query = select(rate_plans.c.version).where(owned_by(operator_id), rate_plans.c.name == name)
    value = conn.execute(query).scalar()
    return None if value is None else int(value)


def create_plan(
    conn: Connection,
    *,
    operator_id: int | None,
    name: str,
    currency: str,
    decimals: int,
    rounding: RoundingMethod,
    timezone: str,
    holidays: Iterable[date],
    owner_account_id: int | None = None,
) -> PlanRecord:
    now = datetime.now(UTC)
    conn.execute(
        insert(rate_plans).values(
            operator_id=operator_id,
            name=name,
            owner_account_id=owner_account_id,
            currency=currency,
            decimals=decimals,
            rounding=rounding.value,
            timezone=timezone,
            holidays=",".join(sorted(d.isoformat() for d in holidays)),
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    plan = find_plan(conn, operator_id, name)
    assert plan is not None
    return plan


def plans_owned_under(conn: Connection, operator_id: int | None, path: str) -> set[str]:
    """Names of the operator's plans owned by an account of the subtree at ``path``."""
    query = (
        select(rate_plans.c.name)
        .join(accounts, accounts.c.id == rate_plans.c.owner_account_id)
        .where(owned_by(operator_id), accounts.c.path.like(f"{path}%"))
    )
    return set(conn.execute(query).scalars())


def delete_plan(conn: Connection, plan_id: int) -> None:
    """A plan and everything recorded about it (rows, imports, price changes)."""
    for table in (rate_changes, rate_imports, rates):
        conn.execute(delete(table).where(table.c.plan_id == plan_id))
    conn.execute(delete(rate_plans).where(rate_plans.c.id == plan_id))


def adopt_unowned_plans(conn: Connection, operator_id: int) -> int:
    """Give the plans no operator owns (imported before any operator existed) to
    ``operator_id``; how many. Same-named plans it already has keep theirs."""
    taken = select(rate_plans.c.name).where(rate_plans.c.operator_id == operator_id)
    query = (
        update(rate_plans)
        .where(rate_plans.c.operator_id.is_(None), rate_plans.c.name.not_in(taken))
        .values(operator_id=operator_id)
    )
    return int(conn.execute(query).rowcount)


def lock_plan(conn: Connection, plan_id: int, *, exclusive: bool = False) -> None:
    """Serialize writers of one plan (a no-op on SQLite, whose writers are serial).

    An import's lock (FOR NO KEY UPDATE) lets assignments claim the plan meanwhile;
    ``exclusive`` (FOR UPDATE, before a delete) waits for them, and they for it."""
    if conn.dialect.name == "postgresql":
        query = select(rate_plans.c.id).where(rate_plans.c.id == plan_id)
        conn.execute(query.with_for_update(key_share=not exclusive))


def claim_plan(conn: Connection, operator_id: int | None, name: str) -> PlanRecord | None:
    """The operator's plan of that name, kept from being deleted until the transaction
    ends (FOR KEY SHARE on PostgreSQL: an import's lock does not wait for it)."""
    query = select(rate_plans).where(owned_by(operator_id), rate_plans.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True, read=True)
    row = conn.execute(query).first()
    return None if row is None else _plan_record(row)


def bump_version(conn: Connection, plan_id: int) -> None:
    conn.execute(
        update(rate_plans)
        .where(rate_plans.c.id == plan_id)
        .values(version=rate_plans.c.version + 1, updated_at=datetime.now(UTC))
    )


def _row_to_rate(row: Sequence[Any], profiles: dict[str, TimeProfile]) -> Rate:
    (
        prefix,
        destination,
        rate,
        connect_fee,
        initial_rate,
        initial_increment,
        increment,
        min_duration,
        grace,
        effective_from,
        effective_to,
        profile,
    ) = row
    time_profile = None
    if profile:
        time_profile = profiles.get(profile)
        if time_profile is None:
            time_profile = profiles[profile] = parse_time_profile(profile)
    return Rate(
        prefix,
        rate,
        destination,
        connect_fee,
        initial_rate,
        initial_increment,
        increment,
        min_duration,
        grace,
        effective_from,
        effective_to,
        time_profile,
    )


def load_rates(conn: Connection, plan_id: int) -> list[Rate]:
    if conn.dialect.name in ("sqlite", "postgresql"):
        return _load_rates_raw(conn, plan_id)
    columns = [rates.c[name] for name in _COLUMNS[1:]]  # pragma: no cover - other dialects
    profiles: dict[str, TimeProfile] = {}
    result = conn.execute(select(*columns).where(rates.c.plan_id == plan_id).order_by(rates.c.id))
    return [_row_to_rate(row, profiles) for row in result]


def _memo(convert: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """``convert`` applied once per distinct raw value: decks repeat prices and dates.

    Equal stored values come back with one representation (SQLite: integer units; PostgreSQL:
    NUMERIC with 8 places), so sharing one immutable result per raw value changes nothing.
    """
    cache: dict[Any, Any] = {None: None}
    get = cache.get

    def memo(raw: Any) -> Any:
        value = get(raw, cache)
        if value is cache:
            value = cache[raw] = raw if convert is None else convert(raw)
        return value

    return memo


def _load_rates_raw(conn: Connection, plan_id: int) -> list[Rate]:
    """Rows read through the driver and converted by the columns' own result processors."""
    dialect = conn.dialect
    marker = "?" if dialect.name == "sqlite" else "%s"
    # deck order (id) decides between equally specific rows of one prefix: first wins
    sql = f"SELECT {', '.join(_COLUMNS[1:])} FROM rates WHERE plan_id = {marker} ORDER BY id"
    profiles: dict[str, TimeProfile] = {}
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.execute(sql, (plan_id,))
        described = {d[0]: d[1] for d in cursor.description}

        def processor(name: str) -> Callable[[Any], Any]:
            column_type = rates.c[name].type.dialect_impl(dialect)
            return _memo(column_type.result_processor(dialect, described[name]))

        amount, instant = processor("rate"), processor("effective_from")
        return [
            _row_to_rate(
                (
                    prefix,
                    destination,
                    amount(rate),
                    amount(connect_fee),
                    amount(initial_rate),
                    initial_increment,
                    increment,
                    min_duration,
                    grace,
                    instant(effective_from),
                    instant(effective_to),
                    profile,
                ),
                profiles,
            )
            for (
                prefix,
                destination,
                rate,
                connect_fee,
                initial_rate,
                initial_increment,
                increment,
                min_duration,
                grace,
                effective_from,
                effective_to,
                profile,
            ) in cursor
        ]
    finally:
        cursor.close()


def load_plan(conn: Connection, operator_id: int | None, name: str) -> tuple[RatePlan, int] | None:
    record = find_plan(conn, operator_id, name)
    if record is None:
        return None
    plan = RatePlan(
        record.name,
        record.currency,
        load_rates(conn, record.id),
        record.decimals,
        record.rounding,
        record.timezone,
        record.holidays,
    )
    return plan, record.version


def delete_rates(conn: Connection, plan_id: int, keys: Iterable[RateKey] | None = None) -> None:
    """Delete all rows of a plan, or only those with the given (prefix, profile, from)."""
    if keys is None:
        conn.execute(delete(rates).where(rates.c.plan_id == plan_id))
        return
    if conn.dialect.name in ("sqlite", "postgresql"):
        _delete_keys(conn, plan_id, list(keys))
        return
    for prefix, profile, effective_from in keys:  # pragma: no cover - other dialects
        conn.execute(
            delete(rates).where(
                rates.c.plan_id == plan_id,
                rates.c.prefix == prefix,
                rates.c.time_profile.is_(None)
                if profile is None
                else rates.c.time_profile == profile,
                rates.c.effective_from.is_(None)
                if effective_from is None
                else rates.c.effective_from == effective_from,
            )
        )


_KEYS_TABLE = "voxbill_rate_keys"
_CHANGE_COLUMNS = (
    "import_id",
    "plan_id",
    "prefix",
    "time_profile",
    "destination",
    "change",
    "old_rate",
    "new_rate",
    "effective_from",
)


def _delete_keys(conn: Connection, plan_id: int, keys: list[RateKey]) -> None:
    """One set-based DELETE: the keys go to a temporary table, joined on the plan's index."""
    if not keys:
        return
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        cursor = raw.cursor()
        try:
            cursor.execute(
                f"CREATE TEMP TABLE {_KEYS_TABLE} "
                "(prefix TEXT NOT NULL, time_profile TEXT, effective_from TEXT)"
            )
            cursor.executemany(
                f"INSERT INTO {_KEYS_TABLE} VALUES (?, ?, ?)",
                ((prefix, profile, _naive(start)) for prefix, profile, start in keys),
            )
            # CROSS JOIN keeps the keys outermost: each key is one probe of the plan's index
            cursor.execute(
                "DELETE FROM rates WHERE id IN (SELECT r.id FROM "
                f"{_KEYS_TABLE} k CROSS JOIN rates r ON r.plan_id = ? AND r.prefix = k.prefix "
                "AND r.time_profile IS k.time_profile AND r.effective_from IS k.effective_from)",
                (plan_id,),
            )
            cursor.execute(f"DROP TABLE {_KEYS_TABLE}")
        finally:
            cursor.close()
        return
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {_KEYS_TABLE} (prefix varchar(20) NOT NULL, "
            "time_profile varchar(200), effective_from timestamptz) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY {_KEYS_TABLE} FROM STDIN") as copy:
            for key in keys:
                copy.write_row(key)
        cursor.execute(f"ANALYZE {_KEYS_TABLE}")
        cursor.execute(
            f"DELETE FROM rates r USING {_KEYS_TABLE} k WHERE r.plan_id = %s "
            "AND r.prefix = k.prefix AND r.time_profile IS NOT DISTINCT FROM k.time_profile "
            "AND r.effective_from IS NOT DISTINCT FROM k.effective_from",
            (plan_id,),
        )
        cursor.execute(f"DROP TABLE {_KEYS_TABLE}")


def insert_rates(conn: Connection, plan_id: int, new_rates: Sequence[Rate]) -> None:
    """Bulk insert: COPY on PostgreSQL, one executemany of scaled integers on SQLite."""
    if not new_rates:
        return
    if conn.dialect.name == "postgresql":
        _copy_rates(conn, plan_id, new_rates)
    elif conn.dialect.name == "sqlite":
        _sqlite_rates(conn, plan_id, new_rates)
    else:  # pragma: no cover - other dialects take the portable path
        conn.execute(insert(rates), [_portable(plan_id, r) for r in new_rates])


def _portable(plan_id: int, r: Rate) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "prefix": r.prefix,
        "destination": r.destination,
        "rate": r.rate,
        "connect_fee": r.connect_fee,
        "initial_rate": r.initial_rate,
        "initial_increment": r.initial_increment,
        "increment": r.increment,
        "min_duration": r.min_duration,
        "grace": r.grace,
        "effective_from": r.effective_from,
        "effective_to": r.effective_to,
        "time_profile": r.time_profile.spec if r.time_profile else None,
    }


def _scaled(value: Decimal | None) -> int | None:
    """10^-8 units, refused (as the Amount type does) rather than truncated or overflowed."""
    if value is None:
        return None
    scaled = value * _SCALE
    units = int(scaled)
    if units != scaled or not _INT64_MIN <= units <= _INT64_MAX:
        raise InvalidMoney(f"amount {value} does not fit {STORAGE_PLACES} decimal places")
    return units


def _naive(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_rates(conn: Connection, plan_id: int, new_rates: Sequence[Rate]) -> None:
    """Rows go in prefix order, so the (plan, prefix) index grows at its end, not at random.

    The sort is stable: the rows of one prefix keep their order, which is the order they
    are read back in (by that index).
    """
    sql = f"INSERT INTO rates ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.executemany(
            sql,
            (
                (
                    plan_id,
                    r.prefix,
                    r.destination,
                    _scaled(r.rate),
                    _scaled(r.connect_fee),
                    _scaled(r.initial_rate),
                    r.initial_increment,
                    r.increment,
                    r.min_duration,
                    r.grace,
                    _naive(r.effective_from),
                    _naive(r.effective_to),
                    r.time_profile.spec if r.time_profile else None,
                )
                for r in sorted(new_rates, key=_by_prefix)
            ),
        )
    finally:
        cursor.close()


_by_prefix = attrgetter("prefix")


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, Decimal):
        if value != value.quantize(_UNIT):  # COPY into NUMERIC would round silently
            raise InvalidMoney(f"amount {value} has more than {STORAGE_PLACES} decimal places")
        return canonical(value)
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_rates(conn: Connection, plan_id: int, new_rates: Sequence[Rate]) -> None:
    raw: Any = conn.connection.dbapi_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY rates ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
    ):
        buffer = io.StringIO()
        for count, r in enumerate(new_rates, 1):
            fields = (
                plan_id,
                r.prefix,
                r.destination,
                r.rate,
                r.connect_fee,
                r.initial_rate,
                r.initial_increment,
                r.increment,
                r.min_duration,
                r.grace,
                r.effective_from,
                r.effective_to,
                r.time_profile.spec if r.time_profile else None,
            )
            buffer.write("\t".join(_copy_text(f) for f in fields))
            buffer.write("\n")
            if count % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def record_import(
    conn: Connection,
    *,
    plan_id: int,
    source: str,
    mode: str,
    rows_read: int,
    rows_imported: int,
    rows_rejected: int,
) -> int:
    result = conn.execute(
        insert(rate_imports)
        .values(
            plan_id=plan_id,
            source=source[:500],
            mode=mode,
            rows_read=rows_read,
            rows_imported=rows_imported,
            rows_rejected=rows_rejected,
            imported_at=datetime.now(UTC),
        )
        .returning(rate_imports.c.id)
    )
    return int(result.scalar_one())


def record_changes(
    conn: Connection, import_id: int, plan_id: int, changes: Sequence[PriceChange]
) -> None:
    if not changes:
        return
    columns = ", ".join(_CHANGE_COLUMNS)
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        cursor = raw.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO rate_changes ({columns}) VALUES ({', '.join('?' * 9)})",
                (
                    (
                        import_id,
                        plan_id,
                        c.prefix,
                        c.time_profile,
                        c.destination,
                        c.change,
                        _scaled(c.old_rate),
                        _scaled(c.new_rate),
                        _naive(c.effective_from),
                    )
                    for c in changes
                ),
            )
        finally:
            cursor.close()
        return
    values = [(import_id, plan_id, *change) for change in changes]  # fields in column order
    if conn.dialect.name == "postgresql":
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY rate_changes ({columns}) FROM STDIN") as copy,
        ):
            for offset in range(0, len(values), 50_000):
                chunk = values[offset : offset + 50_000]
                copy.write("".join("\t".join(map(_copy_text, row)) + "\n" for row in chunk))
    else:  # pragma: no cover - other dialects take the portable path
        rows = [dict(zip(_CHANGE_COLUMNS, row, strict=True)) for row in values]
        conn.execute(insert(rate_changes), rows)


def list_changes(
    conn: Connection,
    plan_id: int,
    import_id: int | None = None,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[RecordedChange]:
    """A plan's recorded price changes, oldest first (optionally one import's, a page)."""
    query = select(rate_changes).where(rate_changes.c.plan_id == plan_id)
    if import_id is not None:
        query = query.where(rate_changes.c.import_id == import_id)
    if after_id is not None:
        query = query.where(rate_changes.c.id > after_id)
    query = query.order_by(rate_changes.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [
        RecordedChange(
            row.id,
            row.import_id,
            row.plan_id,
            row.prefix,
            row.time_profile,
            row.destination,
            row.change,
            row.old_rate,
            row.new_rate,
            row.effective_from,
        )
        for row in conn.execute(query)
    ]


def list_imports(
    conn: Connection, plan_id: int, *, before_id: int | None, limit: int
) -> list[ImportRecord]:
    """A plan's imports, newest first, a page by id."""
    query = select(rate_imports).where(rate_imports.c.plan_id == plan_id)
    if before_id is not None:
        query = query.where(rate_imports.c.id < before_id)
    query = query.order_by(rate_imports.c.id.desc()).limit(limit)
    return [
        ImportRecord(
            row.id,
            row.plan_id,
            row.source,
            row.mode,
            row.rows_read,
            row.rows_imported,
            row.rows_rejected,
            row.imported_at,
        )
        for row in conn.execute(query)
    ]


def rates_page(
    conn: Connection, plan_id: int, *, after_id: int | None, limit: int
) -> list[StoredRate]:
    """A plan's rows a page at a time, for the API (the rating engine loads whole plans)."""
    query = select(rates).where(rates.c.plan_id == plan_id)
    if after_id is not None:
        query = query.where(rates.c.id > after_id)
    return [
        StoredRate(
            row.id,
            row.prefix,
            row.destination,
            row.rate,
            row.connect_fee,
            row.initial_rate,
            row.initial_increment,
            row.increment,
            row.min_duration,
            row.grace,
            row.effective_from,
            row.effective_to,
            row.time_profile,
        )
        for row in conn.execute(query.order_by(rates.c.id).limit(limit))
    ]


class SqlRateRepository:
    """The rating context's repository over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find_plan(self, operator_id: int | None, name: str) -> PlanRecord | None:
        return find_plan(self._conn, operator_id, name)

    def list_plans(
        self,
        operator_id: int | None,
        *,
        names: Collection[str] | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[PlanRecord, int]]:
        return list_plans(self._conn, operator_id, names=names, after=after, limit=limit)

    def plan_records(
        self, operator_id: int | None, *, names: Collection[str] | None = None
    ) -> list[PlanRecord]:
        return plan_records(self._conn, operator_id, names=names)

    def count_rates(self, plan_id: int) -> int:
        return count_rates(self._conn, plan_id)

    def plan_version(self, operator_id: int | None, name: str) -> int | None:
        return plan_version(self._conn, operator_id, name)

    def create_plan(
        self,
        *,
        operator_id: int | None,
        name: str,
        currency: str,
        decimals: int,
        rounding: RoundingMethod,
        timezone: str,
        holidays: Iterable[date],
        owner_account_id: int | None = None,
    ) -> PlanRecord:
        return create_plan(
            self._conn,
            operator_id=operator_id,
            name=name,
            currency=currency,
            decimals=decimals,
            rounding=rounding,
            timezone=timezone,
            holidays=holidays,
            owner_account_id=owner_account_id,
        )

    def plans_owned_under(self, operator_id: int | None, path: str) -> set[str]:
        return plans_owned_under(self._conn, operator_id, path)

    def delete_plan(self, plan_id: int) -> None:
        return delete_plan(self._conn, plan_id)

    def adopt_unowned_plans(self, operator_id: int) -> int:
        return adopt_unowned_plans(self._conn, operator_id)

    def lock_plan(self, plan_id: int, *, exclusive: bool = False) -> None:
        return lock_plan(self._conn, plan_id, exclusive=exclusive)

    def claim_plan(self, operator_id: int | None, name: str) -> PlanRecord | None:
        return claim_plan(self._conn, operator_id, name)

    def bump_version(self, plan_id: int) -> None:
        return bump_version(self._conn, plan_id)

    def load_rates(self, plan_id: int) -> list[Rate]:
        return load_rates(self._conn, plan_id)

    def load_plan(self, operator_id: int | None, name: str) -> tuple[RatePlan, int] | None:
        return load_plan(self._conn, operator_id, name)

    def delete_rates(self, plan_id: int, keys: Iterable[RateKey] | None = None) -> None:
        return delete_rates(self._conn, plan_id, keys)

    def insert_rates(self, plan_id: int, new_rates: Sequence[Rate]) -> None:
        return insert_rates(self._conn, plan_id, new_rates)

    def record_import(
        self,
        *,
        plan_id: int,
        source: str,
        mode: str,
        rows_read: int,
        rows_imported: int,
        rows_rejected: int,
    ) -> int:
        return record_import(
            self._conn,
            plan_id=plan_id,
            source=source,
            mode=mode,
            rows_read=rows_read,
            rows_imported=rows_imported,
            rows_rejected=rows_rejected,
        )

    def record_changes(self, import_id: int, plan_id: int, changes: Sequence[PriceChange]) -> None:
        return record_changes(self._conn, import_id, plan_id, changes)

    def list_changes(
        self,
        plan_id: int,
        import_id: int | None = None,
        *,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[RecordedChange]:
        return list_changes(self._conn, plan_id, import_id, after_id=after_id, limit=limit)

    def list_imports(
        self, plan_id: int, *, before_id: int | None, limit: int
    ) -> list[ImportRecord]:
        return list_imports(self._conn, plan_id, before_id=before_id, limit=limit)

    def rates_page(self, plan_id: int, *, after_id: int | None, limit: int) -> list[StoredRate]:
        return rates_page(self._conn, plan_id, after_id=after_id, limit=limit)
