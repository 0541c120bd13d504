"""Portal pages' server time with many accounts and CDRs (issue 14: every page under
150 ms with 10,000 accounts and 1,000,000 CDRs), on a throwaway PostgreSQL database.

    .venv/bin/python bench/bench_portal.py                          # 10,000 / 1,000,000
    .venv/bin/python bench/bench_portal.py --resellers 20 --customers 50 --cdrs 100000

The tree: the operator, ``--resellers`` resellers with ``--customers`` customers each
(the operator and resellers made through the accounts service, the customers
bulk-inserted with the same columns), and a user below the first customer. The CDRs are
bulk-inserted in SQL (no rating: this measures reads), spread evenly over the customers
and over the last ``--days`` days (so "today", the dashboard's window, holds
1/``--days`` of them), each with the customer's and its reseller's sell legs, a vendor
cost and the margins, as settled calls have. Every GET page of the portal (the routes
of the app under /portal without a path parameter, plus the account pages) is asked
``--rounds`` times in process (TestClient, the session's own read included) by the
operator's admin and support, a reseller, a customer and a user; the median and the
95th percentile are printed in ms, and the first (cold) request's (the dashboard's day
aggregates are then read from the roll-up, which a pass fills after seeding as
``voxbill serve`` does; ``--no-rollup`` reads the day's CDRs instead; later requests
within ``dashboard_cache_seconds`` are served from memory), beside the floor: the same client asking
``/api/v1/health`` in the same run. Exits 1 when a page's median is over 150 ms.

The first customer also has ``--listed`` API keys, caller identifiers, portal users and
subscriptions (bulk SQL): its paged pages are asked from the start and from the middle
(``after_id`` and its kin), and its reseller's accounts below from the middle.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from throwaway_db import throwaway_postgres

from voxbill.bootstrap import Container, build
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import Account
from voxbill.portal.app import create_app
from voxbill.portal.pages import AREAS
from voxbill.portal.web import PREFIX
from voxbill.settings import Settings

PASSWORD = "bench password 1"
BUDGET_MS = 150.0

_CUSTOMERS = """
INSERT INTO accounts (parent_id, path, depth, kind, name, currency, credit_limit,
    block_balance, created_at, updated_at)
SELECT r.id, '', 2, 'customer', 'Customer ' || (r.n - 1) || '-' || (c - 1), 'USD', 0, 0,
    now(), now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM accounts
      WHERE kind = 'reseller') AS r
CROSS JOIN generate_series(1, :customers) AS c
ORDER BY r.id, c
"""
_CUSTOMER_PATHS = """
UPDATE accounts a SET path = p.path || a.id || '/'
FROM accounts p WHERE p.id = a.parent_id AND a.kind = 'customer'
"""

_CDRS = """
INSERT INTO cdrs (session_id, account_id, path, caller, callee, started_at, duration,
    billed_seconds, cost, currency, rate, prefix, destination, overrun, settled_by,
    created_at, vendor_id, vendor_cost, vendor_currency, margin)
SELECT 'bench-' || g, c.id, c.path, 'bench', '4420794' || lpad((g % 100000)::text, 5, '0'),
    now() - g * (:days * interval '1 day' / :count), 60, 60, 0.10, 'USD', 0.10, '44', 'UK',
    false, 'stop', now(), NULL, 0.03, 'USD', 0.03
FROM generate_series(1, :count) AS g
JOIN (SELECT id, path, row_number() OVER (ORDER BY id) - 1 AS n FROM accounts
      WHERE kind = 'customer') AS c ON c.n = g % :customers
"""

# the customer's leg (0.10, its reseller's margin 0.04) and its reseller's (0.06)
_LEGS = """
INSERT INTO cdr_legs (cdr_id, level, account_id, plan, prefix, destination, rate,
    billed_seconds, cost, currency, margin, side)
SELECT c.id, l.level, CASE l.level WHEN 0 THEN c.account_id ELSE a.parent_id END,
    'bench', '44', 'UK', l.cost, 60, l.cost, 'USD', l.margin, 'sell'
FROM cdrs c JOIN accounts a ON a.id = c.account_id
CROSS JOIN (VALUES (0, 0.10, NULL::numeric), (1, 0.06, 0.04)) AS l(level, cost, margin)
"""


#: the first customer's long lists (the paged pages: keys, identifiers, portal users,
#: subscriptions), each ``--listed`` rows
_LISTS = {
    "api_keys": """
INSERT INTO api_keys (account_id, role, prefix, secret_hash, label, created_by, created_at)
SELECT :account, 'support', 'vbk_bench' || g, md5('bench-key-' || g) || md5('k' || g),
    'bench ' || g, 'bench', now()
FROM generate_series(1, :count) AS g
""",
    "caller_identifiers": """
INSERT INTO caller_identifiers (operator_id, account_id, type, value, created_at)
SELECT :operator, :account, 'ani', '1555' || lpad(g::text, 8, '0'), now()
FROM generate_series(1, :count) AS g
""",
    "portal_users": """
INSERT INTO portal_users (account_id, email, password_hash, role, disabled, created_at)
SELECT :account, 'bench-' || g || '@bench.test', 'not a hash', 'customer', false, now()
FROM generate_series(1, :count) AS g
""",
    "notify_subscriptions": """
INSERT INTO notify_subscriptions (account_id, channel, target, events, subtree, created_at)
SELECT :account, 'email', 'bench-' || g || '@bench.test', '["topup.received"]', false, now()
FROM generate_series(1, :count) AS g
""",
}


def seed_lists(container: Container, operator: int, account: int, count: int) -> dict[str, int]:
    """``count`` rows of each of the account's paged lists (bulk SQL); each list's id
    half-way down, a cursor into its middle."""
    middle = {}
    with container.db.transaction() as conn:
        for table, insert in _LISTS.items():
            conn.execute(text(insert), {"operator": operator, "account": account, "count": count})
            found = conn.execute(
                text(f"SELECT id FROM {table} WHERE account_id = :a ORDER BY id OFFSET :n LIMIT 1"),
                {"a": account, "n": count // 2},
            ).scalar_one()
            middle[table] = int(found)
    return middle


def _paged(account: int, reseller: int, child: int, middle: dict[str, int]) -> list[str]:
    """The paged pages of the first customer (and its reseller's accounts below), first
    pages and pages from the middle."""
    page = f"/portal/accounts/{account}"
    return [
        f"{page}/keys",
        f"{page}/keys?after_id={middle['api_keys']}",
        f"{page}/identifiers",
        f"{page}/identifiers?after_id={middle['caller_identifiers']}",
        f"{page}?users_after={middle['portal_users']}",
        f"{page}/notifications",
        f"{page}/notifications?subscriptions_after={middle['notify_subscriptions']}",
        f"/portal/accounts/{reseller}?children_after={child}",
    ]


def _sign_in(app: object, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    page = client.get("/portal/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    signed = client.post(
        "/portal/login",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD},
    )
    assert signed.status_code == 303, signed.text
    return client


def _routes() -> list[str]:
    """Every GET page of the portal's areas without a path parameter (other areas'
    too: each area's router lists its routes)."""
    found = set()
    for area in AREAS:
        for route in area.router.routes:
            path = PREFIX + getattr(route, "path", "")
            methods = getattr(route, "methods", None) or set()
            wanted = "GET" in methods and "{" not in path and not path.endswith(".csv")
            if wanted and path not in (f"{PREFIX}/login", f"{PREFIX}/logout"):
                found.add(path)
    return sorted(found)


def _time(client: TestClient, path: str, rounds: int) -> tuple[float, float, float, int]:
    """Median, 95th percentile and first (cold: nothing cached yet) time, in ms."""
    times = []
    status = 0
    for _ in range(rounds):
        begun = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - begun) * 1000)
        status = response.status_code
    first = times[0]
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, first, status


def seed(
    container: Container, args: argparse.Namespace
) -> tuple[Account, list[int], list[int], int]:
    """The tree (through the accounts service) and the CDRs with their legs (bulk SQL)."""
    started = time.perf_counter()
    root, _ = container.accounts.ensure_operator("Bench Telecom", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    resellers = []
    for r in range(args.resellers):
        fields = {"kind": "reseller", "name": f"Reseller {r}", "parent_id": root.id}
        resellers.append(container.accounts.create(system, fields).id)
    with container.db.transaction() as conn:  # the customers in bulk, as the service would
        conn.execute(text(_CUSTOMERS), {"customers": args.customers})
        conn.execute(text(_CUSTOMER_PATHS))
        found = conn.execute(text("SELECT id FROM accounts WHERE kind = 'customer' ORDER BY id"))
        customers = [int(row[0]) for row in found]
    user = container.accounts.create(
        system,
        {
            "kind": "user",
            "name": "User 0",
            "parent_id": customers[0],
            "shared_balance": True,
        },
    ).id
    print(f"accounts made in {time.perf_counter() - started:.0f} s", flush=True)
    with container.db.transaction() as conn:
        conn.execute(
            text(_CDRS),
            {"count": args.cdrs, "customers": len(customers), "days": args.days},
        )
        conn.execute(text(_LEGS))
    # what autovacuum does to an insert-only table: statistics, and the visibility map
    # that lets the dashboard's day scans read the index alone
    engine = create_engine(container.settings.database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(
        f"{2 + len(resellers) + len(customers)} accounts, {args.cdrs} CDRs "
        f"(with legs) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return root, resellers, customers, user


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resellers", type=int, default=100)
    parser.add_argument("--customers", type=int, default=99, help="per reseller")
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="the CDRs span this many days")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--no-rollup",
        action="store_true",
        help="skip the dashboard roll-up pass (the dashboard then reads the day's CDRs)",
    )
    parser.add_argument(
        "--listed",
        type=int,
        default=2000,
        help="keys, identifiers, portal users and"
        " subscriptions of the first customer (its paged pages)",
    )
    args = parser.parse_args()
    with throwaway_postgres() as url:
        container = build(Settings(database_url=url), migrate=True)
        try:
            root, resellers, customers, user = seed(container, args)
            if not args.no_rollup:  # what `voxbill serve` keeps doing as CDRs settle
                wall, cpu = time.perf_counter(), time.process_time()
                lag = container.settings.dashboard_rollup_lag_seconds
                horizon = datetime.now(UTC) + timedelta(seconds=lag + 1)
                added = container.dashboard_rollup.run_once(horizon)
                print(
                    f"roll-up pass: {added} CDRs in {time.perf_counter() - wall:.1f} s "
                    f"({time.process_time() - cpu:.1f} CPU-s in this process)",
                    flush=True,
                )
            system = Principal(root.id, root.path, Role.ADMIN)
            who = {
                "admin": (root.id, Role.ADMIN),
                "support": (root.id, Role.SUPPORT),
                "reseller": (resellers[0], Role.RESELLER),
                "customer": (customers[0], Role.CUSTOMER),
                "user": (user, Role.USER),
            }
            for name, (account, role) in who.items():
                container.auth.create_portal_user(
                    system, account, f"{name}@bench.test", PASSWORD, role
                )
            middle = seed_lists(container, root.id, customers[0], args.listed)
            paged = _paged(customers[0], resellers[0], customers[args.customers // 2], middle)
            app = create_app(container)
            common = _routes()
            extra = {
                "admin": [
                    f"/portal/accounts?after_id={customers[len(customers) // 2]}",
                    "/portal/accounts?q=Customer%2050-",
                    f"/portal/accounts/{root.id}",
                    f"/portal/accounts/{resellers[0]}",
                    f"/portal/accounts/{customers[-1]}",
                    f"/portal/cdrs?account_id={customers[-1]}",
                    f"/portal/cdrs?account_id={resellers[-1]}",
                    *paged,
                ],
                "support": [f"/portal/accounts/{resellers[0]}"],
                "reseller": [
                    f"/portal/accounts/{resellers[0]}",
                    f"/portal/accounts/{customers[0]}",
                    f"/portal/cdrs?account_id={customers[1]}",
                    *paged,
                ],
                "customer": [f"/portal/accounts/{customers[0]}", *paged[:-1]],
                "user": [f"/portal/accounts/{user}"],
            }
            print(f"{'who':9} {'page':56} {'median':>8} {'p95':>8} {'first':>8}  status")
            worst = 0.0
            slow: list[str] = []
            for name in who:
                client = _sign_in(app, f"{name}@bench.test")
                floor, floor95, first, _ = _time(client, "/api/v1/health", args.rounds)
                print(
                    f"{name:9} {'(floor) /api/v1/health':56} {floor:8.1f} {floor95:8.1f} "
                    f"{first:8.1f}"
                )
                for path in [*common, *extra[name]]:
                    median, p95, first, status = _time(client, path, args.rounds)
                    line = f"{name:9} {path:56} {median:8.1f} {p95:8.1f} {first:8.1f}  {status}"
                    if status != 200:  # e.g. a page this role may not see (403)
                        print(line)
                        continue
                    worst = max(worst, median)
                    if median > BUDGET_MS:
                        slow.append(f"{name} {path}")
                    print(line, flush=True)
        finally:
            container.close()
    print(f"slowest median: {worst:.1f} ms (budget {BUDGET_MS:.0f} ms)")
    if slow:
        print("OVER BUDGET: " + ", ".join(slow), file=sys.stderr)
    return 0 if not slow else 1


if __name__ == "__main__":
    sys.exit(main())
