"""Group commit: many concurrent charging steps share one transaction and one commit.

A durable commit waits for the disk (an fsync of a few milliseconds), and on PostgreSQL
a balance row stays locked until its transaction commits: every call under one reseller
queues on that reseller's row for a whole commit. Steps that arrive while another batch
is being written therefore wait, and the next leader runs all of them in ONE transaction,
each in its own savepoint: one lock turn on the hot rows, one fsync, then every waiter gets
its own answer. A step that fails (a refusal, a conflict) rolls back to its savepoint and
leaves the others untouched; if the batch's commit itself fails, nothing of it was
written, and every step is run again on its own.

Leader/follower, no thread of its own: the caller whose step finds no batch in progress
leads; the others block until their step is written or they are handed the lead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
U = TypeVar("U")
U_co = TypeVar("U_co", covariant=True)


class Batch(Protocol[U_co]):
    """One open transaction that steps run in, each in a savepoint."""

    def step(self) -> AbstractContextManager[U_co]:
        """A savepoint and the unit (e.g. a journal) a step works on; rolled back to
        the savepoint if the step raises, kept (and remembered for after the commit)
        otherwise."""


@dataclass(eq=False)
class _Step:
    work: Callable[[Any], Any]
    wake: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    result: Any = None
    error: BaseException | None = None

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.finished = result, error, True
        self.wake.set()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit(Generic[U]):
    """Run ``work(unit)`` steps from many threads, batched into shared transactions.

    ``single()`` opens a transaction for one step alone (the usual path when nothing
    else is waiting); ``batch()`` opens one for several. ``limit`` caps a batch (1: no
    batching at all). A step that failed in a batch with an error ``again_alone``
    accepts (it changed nothing: e.g. a lock it gave up waiting for) is run again on its
    own once the batch has committed."""

    def __init__(
        self,
        single: Callable[[], AbstractContextManager[U]],
        batch: Callable[[], AbstractContextManager[Batch[U]]],
        *,
        limit: int = 64,
        again_alone: Callable[[BaseException], bool] = lambda _error: False,
    ) -> None:
        self._single = single
        self._batch = batch
        self._again_alone = again_alone
        self._limit = max(1, limit)
        self._lock = threading.Lock()
        self._queue: list[_Step] = []
        self._leading = False
        #: batches written and steps in them (for benchmarks and tests)
        self.batches = 0
        self.steps = 0

    def run(self, work: Callable[[U], T]) -> T:
        if self._limit == 1:
            with self._single() as unit:
                return work(unit)
        step = _Step(work)
        with self._lock:
            self._queue.append(step)
            follow = self._leading
            self._leading = True
        if follow:
            step.wake.wait()
            if step.finished:
                return step.outcome()  # type: ignore[no-any-return]
            # handed the lead: this step is first in the queue
        self._lead()
        return step.outcome()  # type: ignore[no-any-return]

    def _lead(self) -> None:
        with self._lock:
            steps = self._queue[: self._limit]
            del self._queue[: self._limit]
        try:
            self._write(steps)
        finally:
            for step in steps:
                if not step.finished:  # a BaseException escaped mid-batch
                    step.finish(error=RuntimeError("the batch was interrupted; retry"))
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()  # the next leader
                else:
                    self._leading = False

    def _write(self, steps: list[_Step]) -> None:
        self.batches += 1
        self.steps += len(steps)
        if len(steps) == 1:
            self._alone(steps[0])
            return
        outcomes: list[tuple[_Step, Any, BaseException | None]] = []
        try:
            with self._batch() as batch:
                for step in steps:
                    outcomes.append(_in_savepoint(batch, step))
        except Exception:
            # nothing of the batch was written: every step again, on its own
            for step in steps:
                self._alone(step)
            return
        for step, result, error in outcomes:
            if error is not None and self._again_alone(error):
                self._alone(step)
            else:
                step.finish(result, error)

    def _alone(self, step: _Step) -> None:
        try:
            with self._single() as unit:
                result = step.work(unit)
        except Exception as exc:
            step.finish(error=exc)
        else:
            step.finish(result)


def _in_savepoint(batch: Batch[Any], step: _Step) -> tuple[_Step, Any, BaseException | None]:
    try:
        with batch.step() as unit:
            return step, step.work(unit), None
    except Exception as exc:
        return step, None, exc
