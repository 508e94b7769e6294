"""Ordered parallel map with a bounded number of tasks in flight (flat memory on any input size)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def bounded_map(
    executor: Executor | None, function: Callable[[Item], Result], items: Iterable[Item], window: int
) -> Iterator[Result]:
    """Yield ``function(item)`` for each item, in input order, keeping at most ``window`` tasks queued.

    With ``executor=None`` everything runs in the calling thread. Exceptions propagate.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window!r}")
    if executor is None:
        yield from map(function, items)
        return
    pending: deque = deque()
    for item in items:
        pending.append(executor.submit(function, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
