"""schemathesis over /api/v1/openapi.json: no 5xx, and every response matches the schema.

Bounded: a few examples per operation and key, so the whole run stays well under a
minute per dialect. Runs against the ASGI app in process over the same tree as the
tenancy tests, with an admin key (reaches everything) and a reseller key (mostly 404s).
"""

from __future__ import annotations

import os

import schemathesis
from api_tree import Tree
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("VOXBILL_SCHEMATHESIS_EXAMPLES", "12"))


def test_api_conforms_to_its_schema(tree: Tree) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", tree.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for key in (tree.admin, tree.key_a):
        for operation in operations:
            headers = tree.auth(key)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def exercise(case: schemathesis.Case) -> None:
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            exercise()
    # whatever was thrown at it, the books still balance
    assert tree.container.ledger.verify() == []
