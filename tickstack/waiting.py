"""Bounded waiting on asynchronous effects: never a fixed sleep, never an unbounded loop."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from tickstack.errors import TickstackError

T = TypeVar("T")


class WaitTimeout(TickstackError, TimeoutError):
    pass


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    max_interval: float = 2.0,
    give_up_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` until it returns a truthy value or raises nothing falsy; back off between calls.

    ``check`` may raise to mean "not yet"; the last error is reported on timeout. Errors of the
    types in ``give_up_on`` mean it never will be, and propagate at once.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except give_up_on:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure of the probe means "not yet"
            last_error = exc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = f": last error {last_error!r}" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_interval)
