"""Run checks in worker processes that a run can afford to lose.

An op under test can do anything: loop forever inside NumPy, call `os._exit`, crash the
interpreter. Checked in a process of its own, it takes only that process down. Each worker
takes one task at a time through a pipe; a worker past its time limit is killed, one that
dies is buried, and either is replaced, so that the task fails alone and the run goes on.
(`multiprocessing.Pool` waits forever for a dead worker's task; `concurrent.futures` fails
every pending task with BrokenProcessPool.)
"""
from __future__ import annotations

import collections
import math
import multiprocessing
import multiprocessing.connection
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

STARTED, DONE, INTERRUPTED = "started", "done", "interrupted"  # what a worker says about its task


def _serve(connection: multiprocessing.connection.Connection, function: Callable[[Any], Any],
           setup: Callable[[], None]) -> None:
    """A worker's life: set up, then take each task until the pipe closes. It says when it starts
    one (the clock of its time limit starts then, not while the process starts up), then sends
    the result, or that the task raised KeyboardInterrupt: that stops the run, as in-process."""
    setup()
    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        connection.send((STARTED, None))
        try:
            connection.send((DONE, function(task)))
        except KeyboardInterrupt:
            connection.send((INTERRUPTED, None))


class Worker:
    """One process and the task it is working on, if any."""

    def __init__(self, function: Callable[[Any], Any], setup: Callable[[], None]):
        self.connection, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child, function, setup), daemon=True)
        self.process.start()
        child.close()
        self.task: tuple[int, Any] | None = None  # (its position, the task)
        self.deadline = math.inf

    def give(self, index: int, task: Any, timeout: float) -> None:
        """Send a task; until the worker starts it, its start-up counts against the time limit."""
        self.task = index, task
        self.deadline = time.monotonic() + timeout if timeout else math.inf
        try:
            self.connection.send(task)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died setting up: `finished` says so

    def finished(self, timeout: float) -> tuple[bool, Any]:
        """(True, result) once the task is done, (True, Lost(why)) once it is lost, else (False, None)."""
        try:
            while self.connection.poll():
                what, result = self.connection.recv()
                if what == STARTED and timeout:
                    self.deadline = time.monotonic() + timeout
                elif what == DONE:
                    return True, result
                elif what == INTERRUPTED:
                    raise KeyboardInterrupt
        except (EOFError, ConnectionResetError):
            pass  # it died, perhaps while sending
        if not self.process.is_alive():
            self.process.join()
            return True, Lost(f"its process died ({how_it_died(self.process.exitcode)})")
        if time.monotonic() >= self.deadline:
            return True, Lost(f"timed out after {timeout:g} s")
        return False, None

    def stop(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


class Lost(str):
    """Why a task has no result: its worker ran out of time, or died."""


def how_it_died(exitcode: int | None) -> str:
    """'exit code 3', or 'signal SIGSEGV' for a process a signal killed."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def run_isolated(function: Callable[[Any], Any], tasks: Sequence[Any], jobs: int, timeout: float,
                 setup: Callable[[], None], lost: Callable[[Any, str], Any]) -> Iterator[Any]:
    """`function(task)` for each task in `jobs` worker processes, yielded in the order of `tasks`.

    A task that takes more than `timeout` seconds (0: no limit) has its worker killed; a task
    whose worker dies gets `lost(task, why)` as its result, e.g. why = "timed out after 2 s" or
    "its process died (signal SIGSEGV)". A fresh worker takes the next task. Closing the generator
    (on Ctrl-C) kills every worker at once; a KeyboardInterrupt raised by a task is raised here."""
    pending = collections.deque(enumerate(tasks))
    results: dict[int, Any] = {}
    workers = [Worker(function, setup) for _ in range(min(jobs, len(tasks)))]
    try:
        for position in range(len(tasks)):
            while position not in results:
                for worker in workers:
                    if worker.task is None and pending:
                        worker.give(*pending.popleft(), timeout)
                busy = [worker for worker in workers if worker.task is not None]
                wait = min(worker.deadline for worker in busy) - time.monotonic()
                multiprocessing.connection.wait([w.connection for w in busy] + [w.process.sentinel for w in busy],
                                                timeout=None if wait == math.inf else max(wait, 0))
                for i, worker in enumerate(workers):
                    if worker.task is None:
                        continue
                    done, result = worker.finished(timeout)
                    if not done:
                        continue
                    (index, task), worker.task = worker.task, None
                    if isinstance(result, Lost):
                        results[index] = lost(task, str(result))
                        worker.stop()
                        if pending:
                            workers[i] = Worker(function, setup)
                    else:
                        results[index] = result
            yield results.pop(position)
    finally:
        for worker in workers:
            worker.stop()
