"""Which operator a command acts for: ``--operator ID``, or the installation's only one.

Plans, exchange rates and vendors belong to an operator; with several operators a
command that reads or writes them must be told whose (one clear error otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from voxbill.cli.output import EXIT_BAD_INPUT, EXIT_REFUSED, fail

if TYPE_CHECKING:
    from voxbill.bootstrap import Container

OperatorOption = Annotated[
    int | None,
    typer.Option("--operator", min=1, help="operator root account id (needed when several)"),
]


def resolve_operator(container: Container, wanted: int | None, *, required: bool) -> int | None:
    """The operator named, or the only one; None when there is none and ``required`` is
    false (plans of an installation without operators, adopted by the first one)."""
    roots = container.accounts.operators()
    if wanted is not None:
        if wanted not in {root.id for root in roots}:
            fail(f"--operator {wanted}: no operator root account has this id", EXIT_BAD_INPUT)
        return wanted
    if not roots:
        if required:
            fail("there is no operator yet: run 'voxbill init --operator NAME' first", EXIT_REFUSED)
        return None
    if len(roots) > 1:
        names = ", ".join(f"{root.id} ({root.name})" for root in roots)
        fail(f"several operators: {names}; say which with --operator ID", EXIT_BAD_INPUT)
    return roots[0].id


def require_operator(container: Container, wanted: int | None) -> int:
    operator_id = resolve_operator(container, wanted, required=True)
    assert operator_id is not None
    return operator_id
