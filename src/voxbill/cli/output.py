"""How the CLI speaks: one clear stderr line per error, and stable exit statuses."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from voxbill.domain import errors

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2

console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def exit_code_for(error: errors.VoxbillError) -> int:
    if isinstance(error, errors.InvalidInput | errors.UnknownRatePlan):
        return EXIT_BAD_INPUT
    return EXIT_REFUSED


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn voxbill errors into one stderr line and the contract's exit status."""
    try:
        yield
    except errors.VoxbillError as exc:
        fail(f"{exc.message} [{exc.code}]", exit_code_for(exc))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of :func:`cli_errors` that keeps Typer's signature introspection."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with cli_errors():
            return func(*args, **kwargs)

    return wrapper
