"""Typed dependency aliases for routers, and the request-path helpers of the hot endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from anyio import to_thread
from fastapi import Depends, Request, Response
from pydantic import BaseModel

from voxbill.bootstrap import Container

T = TypeVar("T")


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_container(request: Request) -> Container:
    """``async``: a sync dependency would cost a threadpool hop for an attribute read."""
    return container_of(request)


ContainerDep = Annotated[Container, Depends(get_container)]


async def in_thread(work: Callable[[], T]) -> T:
    """Run ``work`` (a call into the synchronous services, which may query the
    database) in the threadpool that sync endpoints use, with the same limit."""
    return await to_thread.run_sync(work)


def model_response(
    model: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``model`` as a JSON response, the same bytes FastAPI writes for a
    ``response_model``: returning a :class:`Response` skips FastAPI's second
    validation of a model just built (and, for a sync endpoint, its thread hop)."""
    body = model.__pydantic_serializer__.to_json(model)
    return Response(body, status_code, headers, media_type="application/json")
