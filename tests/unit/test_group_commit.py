"""Group commit: steps from many threads share batches; each keeps its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from voxbill.services.charging.group_commit import GroupCommit


class FakeStore:
    """A 'database' of committed values; a batch writes only when it commits."""

    def __init__(self, *, fail_commits: int = 0, slow: float = 0.0) -> None:
        self.committed: list[str] = []
        self.transactions = 0
        self.fail_commits = fail_commits
        self.slow = slow
        self.lock = threading.Lock()

    @contextmanager
    def single(self) -> Iterator[list[str]]:
        pending: list[str] = []
        yield pending
        with self.lock:
            self.transactions += 1
            self.committed.extend(pending)
        time.sleep(self.slow)

    @contextmanager
    def batch(self) -> Iterator[FakeBatch]:
        batch = FakeBatch()
        yield batch
        time.sleep(self.slow)
        with self.lock:
            if self.fail_commits:
                self.fail_commits -= 1
                raise RuntimeError("commit failed")
            self.transactions += 1
            self.committed.extend(batch.kept)


class FakeBatch:
    def __init__(self) -> None:
        self.kept: list[str] = []

    @contextmanager
    def step(self) -> Iterator[list[str]]:
        pending: list[str] = []
        yield pending  # an exception here discards the step's writes (its savepoint)
        self.kept.extend(pending)


def write(value: str) -> object:
    def work(unit: list[str]) -> str:
        unit.append(value)
        if value.startswith("bad"):
            raise ValueError(value)
        return value.upper()

    return work


def run_threads(group: GroupCommit[list[str]], values: list[str]) -> dict[str, object]:
    outcomes: dict[str, object] = {}
    barrier = threading.Barrier(len(values))

    def one(value: str) -> None:
        barrier.wait()
        try:
            outcomes[value] = group.run(write(value))  # type: ignore[arg-type]
        except ValueError as exc:
            outcomes[value] = exc

    threads = [threading.Thread(target=one, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_concurrent_steps_share_transactions_and_keep_their_own_answers() -> None:
    store = FakeStore(slow=0.02)
    group = GroupCommit(store.single, store.batch, limit=64)
    values = [f"v{i}" for i in range(40)] + [f"bad{i}" for i in range(5)]
    outcomes = run_threads(group, values)
    assert {v: outcomes[v] for v in values if v.startswith("v")} == {
        v: v.upper() for v in values if v.startswith("v")
    }
    assert all(isinstance(outcomes[f"bad{i}"], ValueError) for i in range(5))
    assert sorted(store.committed) == sorted(v for v in values if v.startswith("v"))
    assert group.steps == 45
    assert group.batches < 45  # some steps did share a commit
    assert store.transactions <= group.batches  # a lone failing step commits nothing


def test_a_failed_commit_runs_every_step_again_on_its_own() -> None:
    store = FakeStore(fail_commits=100, slow=0.02)  # every batch fails to commit
    group = GroupCommit(store.single, store.batch, limit=64)
    values = [f"v{i}" for i in range(20)] + ["bad"]
    outcomes = run_threads(group, values)
    assert all(outcomes[v] == v.upper() for v in values if v.startswith("v"))
    assert isinstance(outcomes["bad"], ValueError)
    assert sorted(store.committed) == sorted(v for v in values if v.startswith("v"))


def test_limit_one_is_a_transaction_per_step() -> None:
    store = FakeStore()
    group = GroupCommit(store.single, store.batch, limit=1)
    outcomes = run_threads(group, ["a", "b", "c"])
    assert outcomes == {"a": "A", "b": "B", "c": "C"}
    assert store.transactions == 3


def test_a_lone_step_raises_its_own_error() -> None:
    store = FakeStore()
    group = GroupCommit(store.single, store.batch)
    with pytest.raises(ValueError, match="bad"):
        group.run(write("bad"))  # type: ignore[arg-type]
    assert group.run(write("ok")) == "OK"  # type: ignore[arg-type]
    assert store.committed == ["ok"]


def test_the_batch_size_is_capped() -> None:
    store = FakeStore(slow=0.02)
    group = GroupCommit(store.single, store.batch, limit=4)
    outcomes = run_threads(group, [f"v{i}" for i in range(30)])
    assert len(outcomes) == 30
    assert group.batches >= 30 / 4


class Busy(Exception):
    pass


def test_a_step_that_gave_up_a_lock_in_a_batch_runs_again_alone() -> None:
    store = FakeStore(slow=0.02)
    tries: dict[str, int] = {}

    def work(value: str) -> object:
        def run(unit: list[str]) -> str:
            tries[value] = tries.get(value, 0) + 1
            if value == "busy" and tries[value] == 1:
                raise Busy  # in a batch: its lock wait gave up
            unit.append(value)
            return value.upper()

        return run

    group = GroupCommit(
        store.single, store.batch, limit=64, again_alone=lambda e: isinstance(e, Busy)
    )
    outcomes: dict[str, object] = {}
    values = ["busy", *[f"v{i}" for i in range(15)]]
    barrier = threading.Barrier(len(values))

    def one(value: str) -> None:
        barrier.wait()
        outcomes[value] = group.run(work(value))  # type: ignore[arg-type]

    threads = [threading.Thread(target=one, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes == {v: v.upper() for v in values}
    assert sorted(store.committed) == sorted(values)
