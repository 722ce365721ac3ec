"""Work split over forked processes (``etl.workers``): groups, results, faults.

Each scenario runs in a fresh interpreter (``tests.fresh``): run_split forks
only from a process with no other thread, which a pytest worker rarely is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import pytest

from etl.errors import CscError
from etl.workers import run_split, split
from tests.fresh import run_fresh


def test_split_keeps_each_key_together_in_order_and_balances_the_weights() -> None:
    items = [("a", 5), ("b", 1), ("a", 5), ("c", 4), ("b", 1), ("d", 3)]
    groups = split(items, 2, key=lambda item: item[0], weight=lambda item: item[1])
    assert len(groups) == 2
    for group in groups:
        keys = {item[0] for item in group}
        # Every item of a key is in the group that has any, in the given order.
        assert group == [item for item in items if item[0] in keys]
    weights = sorted(sum(w for _k, w in group) for group in groups)
    assert weights == [9, 10]  # a (10) alone; c, d, b (4 + 3 + 2) together


def test_split_never_makes_more_groups_than_keys() -> None:
    assert split(["x", "x"], 4, key=str, weight=len) == [["x", "x"]]
    assert split([], 2, key=str, weight=len) == []


def _pids(group: Sequence[int], emit: Callable[[tuple[int, int]], None]) -> None:
    for item in group:
        emit((item, os.getpid()))


def _three_groups() -> tuple[int, list[tuple[int, int, int]]]:
    got: list[tuple[int, int, int]] = []
    run_split(
        [[1, 2], [3], [4, 5]],
        _pids,
        finished=lambda number, result: got.append((number, *result)),
    )
    return os.getpid(), got


def test_each_group_runs_in_its_own_process_and_every_result_comes_back_here() -> None:
    here, got = run_fresh(_three_groups)
    assert sorted((number, item) for number, item, _pid in got) == [
        (0, 1), (0, 2), (1, 3), (2, 4), (2, 5)
    ]  # fmt: skip
    pids = {number: pid for number, _item, pid in got}
    assert pids[0] == here != os.getpid()
    assert len(set(pids.values())) == 3


class _Refused(CscError):
    pass


def _fails_in_child(group: Sequence[str], emit: Callable[[str], None]) -> None:
    for item in group:
        if item == "bad":
            raise _Refused(f"{item} is refused")
        emit(item)


def _child_fails() -> tuple[str, list[str]]:
    got: list[str] = []
    try:
        run_split(
            [["a", "b"], ["c", "bad", "d"]],
            _fails_in_child,
            finished=lambda _number, result: got.append(result),
        )
    except _Refused as exc:
        return str(exc), got
    return "nothing raised", got


def test_a_fault_in_a_child_is_raised_here_after_the_other_groups_end() -> None:
    raised, got = run_fresh(_child_fails)
    assert raised == "bad is refused"
    # The child's result before its fault arrived; it stopped at the fault.
    assert "c" in got and "d" not in got


def _unpicklable(group: Sequence[str], emit: Callable[[str], None]) -> None:
    if group == ["child"]:
        raise ValueError(threading.Lock())  # an exception whose argument cannot be pickled
    emit(group[0])


def _split(work: Callable[[Sequence[str], Callable[[str], None]], None]) -> None:
    run_split([["here"], ["child"]], work, finished=lambda _n, _r: None)


def test_a_fault_that_cannot_be_pickled_still_reaches_here_as_a_sentence() -> None:
    with pytest.raises(RuntimeError, match="worker 1 failed: ValueError"):
        run_fresh(_split, _unpicklable)


def _dies(group: Sequence[str], emit: Callable[[str], None]) -> None:
    if group == ["child"]:
        os._exit(3)
    emit(group[0])


def test_a_child_that_dies_is_a_fault_here() -> None:
    with pytest.raises(RuntimeError, match=r"worker 1 ended without finishing \(exit code 3\)"):
        run_fresh(_split, _dies)


def _with_a_thread() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        run_split([[1], [2]], _pids, finished=lambda _n, _r: None)
    finally:
        stop.set()
        thread.join()


def test_forking_with_another_thread_running_is_refused() -> None:
    with pytest.raises(RuntimeError, match="before any other thread starts"):
        run_fresh(_with_a_thread)
