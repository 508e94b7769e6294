"""Ordered parallel map with a bounded number of tasks in flight (flat memory on any input size)."""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def bounded_map(
    executor: Executor | None,
    function: Callable[[Item], Result],
    items: Iterable[Item],
    window: int,
    chunk_size: int = 1,
) -> Iterator[Result]:
    """Yield ``function(item)`` for each item, in input order.

    Items go to the executor in chunks of ``chunk_size`` (one task each: a process pool's
    per-task cost is paid once per chunk), with at most ``window`` chunks queued. With
    ``executor=None`` everything runs in the calling thread. Exceptions propagate.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size!r}")
    if executor is None:
        yield from map(function, items)
        return
    pending: deque = deque()
    iterator = iter(items)
    while chunk := tuple(itertools.islice(iterator, chunk_size)):
        pending.append(executor.submit(_apply, function, chunk))
        if len(pending) >= window:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


def _apply(function: Callable[[Item], Result], chunk: tuple[Item, ...]) -> list[Result]:
    return [function(item) for item in chunk]


@contextmanager
def worker_pool(workers: int, enabled: bool = True) -> Iterator[Executor | None]:
    """``workers`` spawned processes, or None (work in the calling process) when not enabled or workers < 2.

    Spawned, not forked: safe to start from a multi-threaded process such as the Streamlit server.
    Queued work is cancelled when the block is left by an error.
    """
    if not enabled or workers < 2:
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
