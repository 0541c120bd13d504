"""The one table from error codes to every door's answer (``voxbill.outcomes``)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import voxbill
from voxbill import outcomes
from voxbill.domain import errors
from voxbill.domain.charging import Reason
from voxbill.outcomes import EXIT_BAD_INPUT, EXIT_REFUSED, exit_code_for, http_status_for


def _every_subclass(cls: type[errors.VoxbillError]) -> set[type[errors.VoxbillError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _every_subclass(sub)
    return found


def _import_everything() -> None:
    for module in pkgutil.walk_packages(voxbill.__path__, "voxbill."):
        if ".migrations" in module.name:  # alembic scripts, run only by alembic
            continue
        importlib.import_module(module.name)


def test_every_voxbill_error_code_is_in_the_table() -> None:
    _import_everything()
    classes = _every_subclass(errors.VoxbillError) | {errors.VoxbillError}
    missing = {cls.__name__: cls.code for cls in classes if cls.code not in outcomes.known_codes()}
    assert not missing
    assert len(classes) > 35  # the walk did find the error tree and the others


def test_every_charging_reason_has_a_switch_answer() -> None:
    assert {reason.value for reason in Reason} <= outcomes.known_reasons()


def test_codes_are_unique_and_switch_rows_name_their_code() -> None:
    codes = [outcome.code for outcome in outcomes.TABLE]
    assert len(codes) == len(set(codes))
    for outcome in outcomes.TABLE:
        assert outcome.refusal is None or outcome.refusal.reason == outcome.code


@pytest.mark.parametrize(
    ("error", "status", "exit_code"),
    [
        (errors.InvalidInput("x"), 422, EXIT_BAD_INPUT),
        (errors.InvalidInput("x", code="invalid_vendor"), 422, EXIT_BAD_INPUT),
        (errors.InvalidMoney("x", code="amount_out_of_range"), 422, EXIT_BAD_INPUT),
        (errors.UnstorableValue(), 422, EXIT_BAD_INPUT),
        (errors.UnknownRatePlan("x"), 404, EXIT_BAD_INPUT),
        (errors.NotFound("x", code="some_new_thing"), 404, EXIT_REFUSED),
        (errors.NoRate("x"), 404, EXIT_REFUSED),
        (errors.SessionConflict("x"), 409, EXIT_REFUSED),
        (errors.InsufficientFunds("x"), 402, EXIT_REFUSED),
        (errors.TooManyPinFailures("x"), 429, EXIT_REFUSED),
        (errors.InvalidPin("x"), 403, EXIT_REFUSED),
        (errors.RateLimited("x", retry_after=1.0), 429, EXIT_REFUSED),
        (errors.Refused("x", code="concurrency_limit"), 429, EXIT_REFUSED),
        (errors.PinBusy("x"), 503, EXIT_REFUSED),
        (errors.DatabaseBusy("x"), 503, EXIT_REFUSED),
        (errors.Unauthorized("x"), 401, EXIT_REFUSED),
        (errors.AccountNotActive("x"), 403, EXIT_REFUSED),
        (errors.UnknownSchema("x"), 400, EXIT_REFUSED),
        (errors.CurrencyMismatch("x"), 422, EXIT_REFUSED),
        (errors.VoxbillError("x"), 400, EXIT_REFUSED),
    ],
)
def test_http_status_and_exit_code(error: errors.VoxbillError, status: int, exit_code: int) -> None:
    assert http_status_for(error) == status
    assert exit_code_for(error) == exit_code


def test_a_reason_without_a_switch_answer_is_an_internal_failure() -> None:
    assert outcomes.refusal_for("invalid_input") is outcomes.INTERNAL
    assert outcomes.refusal_for(None) is outcomes.INTERNAL
    assert outcomes.refusal_for("session_conflict").sip_status == 481
