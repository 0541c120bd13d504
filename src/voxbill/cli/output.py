"""How the CLI speaks: one clear stderr line per error, and stable exit statuses (from the
one table, :mod:`voxbill.outcomes`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from voxbill.domain import errors
from voxbill.outcomes import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED, exit_code_for

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_OK",
    "EXIT_REFUSED",
    "cli_errors",
    "console",
    "err_console",
    "exit_code_for",
    "fail",
    "guarded",
    "print_json",
]

console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


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
