"""bounded_map: ordered results, errors propagate, at most ``window`` tasks ahead of the consumer."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import pytest

from speechrec.parallel import batched, bounded_map, worker_pool


def square(value: int) -> int:
    return value * value


def slow_when_even(value: int) -> int:
    # Later items finish first (odd ones are fast): results must still come in input order.
    if value % 2 == 0:
        time.sleep(0.002)
    return value


class Boom(Exception):
    pass


def fail_on_three(value: int) -> int:
    if value == 3:
        raise Boom(f"item {value} failed")
    return value


@pytest.fixture
def pool():
    with ThreadPoolExecutor(4) as executor:
        yield executor


@pytest.mark.parametrize("window", [1, 2, 3, 8, 100])
def test_results_are_in_input_order(pool, window):
    assert list(bounded_map(pool, slow_when_even, range(40), window=window)) == list(range(40))


def test_without_executor_runs_in_the_calling_thread():
    threads = []

    def record(value: int) -> int:
        threads.append(threading.get_ident())
        return value + 1

    assert list(bounded_map(None, record, [1, 2, 3], window=4)) == [2, 3, 4]
    assert set(threads) == {threading.get_ident()}


@pytest.mark.parametrize("use_pool", [False, True])
def test_empty_input(pool, use_pool):
    assert list(bounded_map(pool if use_pool else None, square, [], window=2)) == []


@pytest.mark.parametrize("use_pool", [False, True])
def test_exceptions_propagate_after_the_earlier_results(pool, use_pool):
    results = bounded_map(pool if use_pool else None, fail_on_three, range(10), window=3)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(Boom, match="item 3 failed"):
        next(results)


@pytest.mark.parametrize("use_pool", [False, True])
@pytest.mark.parametrize("window", [0, -1])
def test_window_below_one_is_rejected(pool, use_pool, window):
    # The check must not depend on whether an executor is given.
    with pytest.raises(ValueError, match=r"window must be at least 1, got " + str(window)):
        list(bounded_map(pool if use_pool else None, square, range(5), window=window))


@pytest.mark.parametrize(("window", "chunk_size"), [(1, 1), (2, 1), (5, 1), (1, 4), (2, 3), (3, 5)])
def test_never_more_than_window_chunks_ahead_of_the_consumer(pool, window, chunk_size):
    pulled = 0

    def items():
        nonlocal pulled
        for value in range(60):
            pulled += 1
            yield value

    ahead = []
    for consumed, result in enumerate(bounded_map(pool, square, items(), window, chunk_size)):
        # Items taken from the input but not yet handed to the consumer (this one included).
        ahead.append(pulled - consumed)
        assert result == consumed * consumed
    assert max(ahead) == window * chunk_size  # it does work ahead, up to the window, and no further


def test_works_lazily_on_an_endless_input(pool):
    # Flat memory: an endless input is consumed only as far as the results are used.
    results = bounded_map(pool, square, itertools.count(), window=4)
    assert list(itertools.islice(results, 6)) == [0, 1, 4, 9, 16, 25]


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 50])
def test_chunks_keep_input_order(pool, chunk_size):
    assert list(bounded_map(pool, slow_when_even, range(40), window=2, chunk_size=chunk_size)) == list(range(40))


@pytest.mark.parametrize(("count", "size", "sizes"), [(0, 3, []), (7, 3, [3, 3, 1]), (6, 3, [3, 3]), (2, 5, [2])])
def test_batched_splits_in_order_with_a_short_last_batch(count, size, sizes):
    batches = list(batched(iter(range(count)), size))
    assert [len(batch) for batch in batches] == sizes
    assert [item for batch in batches for item in batch] == list(range(count))


@pytest.mark.parametrize("chunk_size", [0, -2])
def test_chunk_size_below_one_is_rejected(pool, chunk_size):
    with pytest.raises(ValueError, match=rf"chunk_size must be at least 1, got {chunk_size}"):
        list(bounded_map(pool, square, range(5), window=2, chunk_size=chunk_size))


@pytest.mark.parametrize(("workers", "enabled"), [(4, False), (1, True), (0, True)])
def test_worker_pool_runs_in_process_when_not_worth_it(workers, enabled):
    with worker_pool(workers, enabled) as pool:
        assert pool is None


def test_worker_pool_runs_work_in_other_processes():
    with worker_pool(2) as pool:
        assert pool is not None
        pids = set(bounded_map(pool, worker_pid, range(8), window=4, chunk_size=2))
    assert pids and os.getpid() not in pids


def worker_pid(_: int) -> int:
    return os.getpid()


def test_workers_do_not_rerun_the_parents_main_script(tmp_path, monkeypatch):
    """Under Streamlit, ``__main__`` is the page script: a spawned worker must not run it again."""
    marker = tmp_path / "page-ran"
    page_script = tmp_path / "page.py"
    page_script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(page_script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    with worker_pool(2) as pool:
        assert len(set(bounded_map(pool, worker_pid, range(8), window=4))) >= 1
    assert not marker.exists()
    assert sys.modules["__main__"] is page


def test_worker_errors_reach_the_caller():
    with worker_pool(2) as pool, pytest.raises(Boom, match="item 3 failed"):
        list(bounded_map(pool, fail_on_three, range(6), window=2))
