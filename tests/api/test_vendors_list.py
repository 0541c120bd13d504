"""``GET /api/v1/vendors`` and ``voxbill vendors list``: the operator's vendors, read by
its staff (admin, the operator's support: without SIP targets), refused 403 to other
roles (a reseller's support too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

from api_tree import Tree

from voxbill.domain.access import Principal, Role
from voxbill.domain.routing import SipTarget


def _vendors(tree: Tree) -> tuple[int, int]:
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    create = tree.container.accounts.create
    first = create(system, {"kind": "vendor", "name": "Carrier One"}).id
    second = create(system, {"kind": "vendor", "name": "Carrier Two"}).id
    tree.container.routing.set_target(system, first, SipTarget("sbc.example", 5080))
    return first, second


def test_staff_list_the_vendors_by_id(tree: Tree) -> None:
    first, second = _vendors(tree)
    admin = tree.client.get("/api/v1/vendors", headers=tree.auth(tree.admin)).json()
    assert [v["id"] for v in admin["items"]] == [first, second]
    assert admin["items"][0]["sip_target"]["host"] == "sbc.example"
    assert admin["items"][1]["sip_target"] is None
    assert [v["balance"] for v in admin["items"]] == ["0.00", "0.00"]
    assert admin["next_after_id"] is None
    page = tree.client.get(
        "/api/v1/vendors", params={"limit": 1}, headers=tree.auth(tree.admin)
    ).json()
    assert ([v["id"] for v in page["items"]], page["next_after_id"]) == ([first], first)
    rest = tree.client.get(
        "/api/v1/vendors", params={"after_id": first}, headers=tree.auth(tree.admin)
    ).json()
    assert [v["id"] for v in rest["items"]] == [second]
    support = tree.client.get("/api/v1/vendors", headers=tree.auth(tree.support_root)).json()
    assert [v["sip_target"] for v in support["items"]] == [None, None]
    # vendors are the operator's: a reseller's support is refused, as the reseller is
    for key in (tree.support_a, tree.key_a, tree.key_customer_a, tree.key_user_a):
        refused = tree.client.get("/api/v1/vendors", headers=tree.auth(key))
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"


def test_the_command_line_lists_them(tree: Tree, database_url: str) -> None:
    first, second = _vendors(tree)
    tree.container.ledger.top_up(first, Decimal("3"), actor="test")
    env = {**os.environ, "VOXBILL_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", "from voxbill.cli.main import main; main()"]
        + ["vendors", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert [(v["id"], v["balance"]) for v in shown] == [(first, "3"), (second, "0")]
    assert shown[0]["sip_target"] == "sip:NUMBER@sbc.example:5080;transport=udp"
