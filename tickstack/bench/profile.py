"""This design's cost per invocation, fitted to what was counted at two batch sizes.

A phase gives, per function: the ticks sent, the invocations and their durations and log bytes (from
the logs), and the calls counted. Two phases whose invocations carry different numbers of records
(single ticks on an idle stack; rounds of one tick per symbol) separate what an invocation costs
whatever it carries from what each record adds (`cost.fit`). Alerts are left out of the fit: the
ticks of those phases are not real prices, so an alert's publish is priced per tick at the rate the
replay of real prices showed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from tickstack.bench.cost import DesignProfile, FunctionProfile, Linear, fit
from tickstack.bench.counting import Call, Tally
from tickstack.bench.invocations import Invocation

# Requests priced per tick, not per invocation (see the module docstring).
ALERT_REQUESTS = ("sns Publish", "sns PublishBatch")


@dataclass
class Phase:
    """One function's share of one phase: the ticks of the phase, its invocations and calls."""

    ticks: int
    invocations: list[Invocation]
    calls: list[Call]

    @cached_property
    def tally(self) -> Tally:
        return Tally.of(self.calls)

    @property
    def count(self) -> int:
        return len(self.invocations)

    @property
    def records_per_invocation(self) -> float:
        return self.ticks / self.count if self.count else 0.0

    def per_invocation(self, total: float) -> float:
        return total / self.count if self.count else 0.0


def meters(tally: Tally, item_sizes: Mapping[str, float]) -> dict[str, float]:
    """The billed quantities of a function's calls (alerts excluded)."""
    services = tally.by_service()
    return {
        "dynamodb.write_request_units": tally.ddb_write_units,
        "dynamodb.read_request_units": tally.read_units(item_sizes),
        "s3.put_requests": float(tally.s3_puts),
        "s3.get_requests": float(tally.s3_gets),
        "sqs.requests": float(services.get("sqs", 0)),
        "cloudwatch.api_requests": float(services.get("cloudwatch", 0)),
    }


def fit_function(single: Phase, rounds: Phase, memory_mb: int, batch_size: int,
                 item_sizes: Mapping[str, float]) -> FunctionProfile:
    ka, kb = single.records_per_invocation, rounds.records_per_invocation

    def line(a_total: float, b_total: float) -> Linear:
        return fit(ka, single.per_invocation(a_total), kb, rounds.per_invocation(b_total))

    meters_a, meters_b = meters(single.tally, item_sizes), meters(rounds.tally, item_sizes)
    names = (set(single.tally.requests) | set(rounds.tally.requests)) - set(ALERT_REQUESTS)
    return FunctionProfile(
        memory_mb=memory_mb,
        batch_size=batch_size,
        duration_ms=line(*(sum(i.duration_ms for i in phase.invocations) for phase in (single, rounds))),
        log_bytes=line(*(sum(i.log_bytes for i in phase.invocations) for phase in (single, rounds))),
        meters={m: line(meters_a[m], meters_b[m]) for m in meters_a if meters_a[m] or meters_b[m]},
        requests={n: line(single.tally.requests[n], rounds.tally.requests[n]) for n in sorted(names)},
    )


def alert_meters(trend_replay: Tally, ticks: int) -> dict[str, float]:
    """Per tick: the publishes of real prices' alerts, and each one's delivery to the audit queue."""
    per_tick = trend_replay.sns_publishes / ticks if ticks else 0.0
    return {"sns.publish_requests": per_tick, "sqs.requests": per_tick}


def design(process: FunctionProfile, trend: FunctionProfile, per_tick: Mapping[str, float], record_bytes: float,
           stored_item_bytes: float, archived_bytes: float) -> DesignProfile:
    return DesignProfile(name="this design (measured)", process=process, trend=trend, per_tick=dict(per_tick),
                         record_bytes=record_bytes, stored_item_bytes=stored_item_bytes,
                         archived_bytes=archived_bytes)
