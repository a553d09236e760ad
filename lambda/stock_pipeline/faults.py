"""Faults injected on purpose, on the emulators only, to show that faults lose nothing.

The switch is the FAULT_INJECTION environment variable (contract.Env), which Terraform sets
from its `fault_injection` variable on emulator targets only, and refuses on AWS. Its value
names a share of invocations per kind of fault, e.g. "process=0.2,trend=0.2,trend_crash_after_publish=0.3":

- process: ProcessStockData raises InjectedFault before doing anything, so the whole batch is retried;
- trend: StockTrendAnalysis does the same;
- trend_crash_after_publish: after SNS accepted an alert, StockTrendAnalysis dies (InjectedCrash)
  before the write that clears the alert from its outbox: the alert goes out again on the retry,
  the one duplicate the outbox allows (see catch_up.py).

The dice are seeded per invocation by the caller (the handlers use the request id), so the
same invocation always makes the same choices, and a retry (a new request id) makes new ones.
Pure: the seed comes in; nothing here reads a clock or the environment.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from stock_pipeline.contract import (
    FAULT_KINDS,
    FAULT_PROCESS,
    FAULT_TREND,
    FAULT_TREND_CRASH_AFTER_PUBLISH,
    Env,
)
from stock_pipeline.trend import Alert


class _Publisher(Protocol):
    """ports.AlertPublisher, named here so that this module stays pure."""

    def publish(self, alert: Alert) -> None: ...


class InjectedFault(RuntimeError):
    """An infrastructure error injected on purpose: the invocation fails and its batch is retried."""


class InjectedCrash(BaseException):
    """The function dying on purpose (as a killed process would), between two of its writes.

    A BaseException, like SystemExit: no `except Exception` on the way (the batch utility's
    per-record handling among them) turns it into a partial batch failure; the whole
    invocation fails, as when Lambda loses the process.
    """


@dataclass(frozen=True)
class FaultSpec:
    """The share, from 0 to 1, of invocations each kind of fault hits."""

    shares: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """"kind=share,kind=share"; empty or None for no faults. Raises ValueError on anything else."""
        shares: dict[str, float] = {}
        for part in (text or "").split(","):
            part = part.strip()
            if not part:
                continue
            kind, sep, value = part.partition("=")
            kind = kind.strip()
            if not sep or kind not in FAULT_KINDS:
                raise ValueError(
                    f"{Env.FAULT_INJECTION}: {part!r} is not kind=share with kind one of {', '.join(FAULT_KINDS)}"
                )
            if kind in shares:
                raise ValueError(f"{Env.FAULT_INJECTION}: {kind} is given twice")
            try:
                share = float(value)
            except ValueError:
                raise ValueError(f"{Env.FAULT_INJECTION}: the share of {kind} is not a number: {value!r}") from None
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{Env.FAULT_INJECTION}: the share of {kind} must lie from 0 to 1, got {value}")
            shares[kind] = share
        return cls(shares)

    def share(self, kind: str) -> float:
        return self.shares.get(kind, 0.0)

    def __bool__(self) -> bool:
        return any(self.shares.values())


class Faults:
    """One invocation's dice: each question asked draws once from a generator seeded with `seed`."""

    def __init__(self, spec: FaultSpec, seed: str, on_inject: Callable[[str], None] = lambda kind: None) -> None:
        """`on_inject(kind)` is called just before a fault is raised, e.g. to log it."""
        self.spec = spec
        self._rng = random.Random(seed)
        self._on_inject = on_inject

    def _hits(self, kind: str) -> bool:
        share = self.spec.share(kind)
        return share > 0 and self._rng.random() < share

    def fail_invocation(self, function: str) -> None:
        """Raise InjectedFault for the chosen share of `function`'s invocations (FAULT_PROCESS or FAULT_TREND)."""
        if function not in (FAULT_PROCESS, FAULT_TREND):
            raise ValueError(f"no invocation fault for {function!r}")
        if self._hits(function):
            self._on_inject(function)
            raise InjectedFault(f"fault injected: {function} invocation failed before doing anything")

    def crash_after_publish(self) -> None:
        """Raise InjectedCrash for the chosen share of published alerts."""
        if self._hits(FAULT_TREND_CRASH_AFTER_PUBLISH):
            self._on_inject(FAULT_TREND_CRASH_AFTER_PUBLISH)
            raise InjectedCrash("fault injected: died after SNS accepted an alert, before clearing it")


class CrashAfterPublish:
    """An AlertPublisher that may die right after the one it wraps has published."""

    def __init__(self, publisher: _Publisher, faults: Faults) -> None:
        self._publisher = publisher
        self._faults = faults

    def publish(self, alert: Alert) -> None:
        self._publisher.publish(alert)
        self._faults.crash_after_publish()
