"""Run a function in a fresh interpreter, for code that must start with no other thread.

``etl.workers`` forks only from a process that runs no thread but its own;
a pytest worker has usually started some (Airflow's, in earlier tests), and
ingest then rightly stays in one process.  The tests of the forked path run
it here instead: a spawned process (a new interpreter, no thread of this
one), the function's result or exception sent back.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


def run_fresh(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a new interpreter; its result returned, its exception raised."""
    context = multiprocessing.get_context("spawn")
    outbox = context.SimpleQueue()
    # Not a Pool: a pool's processes are daemons, which may not fork workers.
    process = context.Process(target=_call, args=(outbox, function, args))
    process.start()
    kind, payload = outbox.get()
    process.join()
    if kind == "raised":
        raise payload
    return payload


def _call(outbox: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        outbox.put(("returned", function(*args)))
    except BaseException as exc:
        outbox.put(("raised", exc))
