"""Work split over the machine's cores: groups of items, each in a process of its own.

A hub's month is 459 files whose ingest is mostly Python (reading, GX,
statements), so one process keeps one of the two cores busy.  The files of
different LAs are independent (each LA's loads take their own lock; a
month's closures wait only for their own LA's referrals), so the LAs are
split into groups and each group is ingested, in order, by a process of its
own: this one runs the first group, a forked child each other.

Forked, not spawned: a child starts with what this process has imported and
set up (settings, the warehouse engine), and needs no picklable entry point.
It must be forked before any other thread starts (one holding a lock at the
fork would leave it held in the child): :func:`forkable` says whether this
process still can, and :func:`run_split` refuses otherwise.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: What a group's work gets: a function to call with each result as it comes.
Emit = Callable[[R], None]


def split(
    items: Sequence[T], parts: int, *, key: Callable[[T], str], weight: Callable[[T], int]
) -> list[list[T]]:
    """``items`` in at most ``parts`` groups: items of one key together, in their own order,
    the groups' weights as even as largest-first placing makes them."""
    keys = [key(item) for item in items]  # each once: a key or weight may read a file
    totals: dict[str, int] = {}
    for item, name in zip(items, keys, strict=True):
        totals[name] = totals.get(name, 0) + weight(item)
    loads = [0] * max(1, min(parts, len(totals)))
    place: dict[str, int] = {}
    for name in sorted(totals, key=lambda name: -totals[name]):
        lightest = loads.index(min(loads))
        loads[lightest] += totals[name]
        place[name] = lightest
    # Each group keeps the items' given order (an LA's months, then datasets).
    groups: list[list[T]] = [[] for _ in loads]
    for item, name in zip(items, keys, strict=True):
        groups[place[name]].append(item)
    return [group for group in groups if group]


def forkable() -> bool:
    """Whether this process can fork workers safely: no thread but this one runs."""
    return threading.active_count() == 1


def run_split(
    groups: Sequence[Sequence[T]],
    work: Callable[[Sequence[T], Emit[R]], None],
    *,
    finished: Callable[[int, R], None],
    in_child: Callable[[], None] = lambda: None,
) -> None:
    """Run ``work(group, emit)`` for every group at once: the first here, each other in a
    forked child (after ``in_child()``, e.g. to drop inherited connections).

    ``finished(group number, result)`` is called here, in this thread, for each
    result a group emits.  A fault in any group is raised here once every
    child has ended (none is killed part-way: each ends its current item).
    """
    if not forkable():
        raise RuntimeError("run_split must fork before any other thread starts")
    context = multiprocessing.get_context("fork")
    inbox: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()
    started = []
    for number, group in enumerate(groups[1:], start=1):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child, args=(send, number, group, work, in_child), name=f"ingest-{number}"
        )
        process.start()
        send.close()  # the child's end: a later child must not hold it open
        started.append((number, process, receive))
    # Relayed by threads, started once every child is forked.
    children = []
    for number, process, receive in started:
        reader = threading.Thread(target=_relay, args=(receive, number, process, inbox))
        reader.start()
        children.append((process, reader))

    def here(result: R) -> None:
        finished(0, result)
        _deliver(inbox, finished)

    try:
        work(groups[0] if groups else [], here)
    finally:
        for process, reader in children:
            reader.join()
            process.join()
    _deliver(inbox, finished)


def _child(
    send: Connection,
    number: int,
    group: Sequence[Any],
    work: Callable[[Sequence[Any], Emit[Any]], None],
    in_child: Callable[[], None],
) -> None:
    try:
        in_child()
        work(group, lambda result: send.send(("result", number, result)))
        send.send(("done", number, None))
    except BaseException as exc:  # every fault goes to the parent
        try:
            send.send(("failed", number, exc))
        except Exception:  # an exception that cannot be pickled
            send.send(("failed", number, RuntimeError(f"worker {number} failed: {exc!r}")))
    finally:
        send.close()


def _relay(
    receive: Connection,
    number: int,
    process: multiprocessing.process.BaseProcess,
    inbox: queue.SimpleQueue[tuple[str, int, Any]],
) -> None:
    """Move a child's messages to the inbox as they come, so its pipe never fills."""
    with receive:
        while True:
            try:
                kind, _number, payload = receive.recv()
            except EOFError:
                process.join()
                fault = RuntimeError(
                    f"worker {number} ended without finishing (exit code {process.exitcode})"
                )
                inbox.put(("failed", number, fault))
                return
            except Exception as exc:  # a message that cannot be unpickled
                inbox.put(("failed", number, RuntimeError(f"worker {number}: {exc!r}")))
                return
            if kind == "done":
                return
            inbox.put((kind, number, payload))
            if kind == "failed":
                return


def _deliver(
    inbox: queue.SimpleQueue[tuple[str, int, Any]], finished: Callable[[int, Any], None]
) -> None:
    """Hand on the children's results so far; raise the first fault among them."""
    while True:
        try:
            kind, number, payload = inbox.get_nowait()
        except queue.Empty:
            return
        if kind == "failed":
            raise payload
        finished(number, payload)
