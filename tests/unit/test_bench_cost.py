"""The cost model's arithmetic: workloads, batching at a rate, the bill per service, the reference design."""

from __future__ import annotations

import json
import math

import pytest

from tickstack.bench import cost, prices
from tickstack.bench.cost import (
    DesignProfile,
    Deployment,
    FunctionProfile,
    Linear,
    Workload,
    fit,
    monthly_cost,
    monthly_usage,
    records_per_invocation,
    reference_design,
)
from tickstack.bench.run import cost_only, parser

MONTH_TICKS_500_EVERY_30 = 500 / 30 * 730 * 3600  # 43.8 million


def function(meters=None, duration=Linear(), log_bytes=Linear(), memory_mb=256, batch_size=100) -> FunctionProfile:
    return FunctionProfile(memory_mb=memory_mb, batch_size=batch_size, duration_ms=duration, log_bytes=log_bytes,
                           meters=meters or {})


def design(process=None, trend=None, per_tick=None, record_bytes=200.0, item_bytes=250.0, archived=220.0):
    return DesignProfile(name="d", process=process or function(), trend=trend or function(),
                         per_tick=per_tick or {}, record_bytes=record_bytes, stored_item_bytes=item_bytes,
                         archived_bytes=archived)


NO_EXTRAS = Deployment(point_in_time_recovery=False, active_tracing=False)


def test_a_workload_of_500_symbols_every_30_seconds_is_43_8_million_ticks_a_month() -> None:
    workload = Workload(500, 30)
    assert workload.ticks_per_second == pytest.approx(16.667, abs=1e-3)
    assert workload.ticks == pytest.approx(MONTH_TICKS_500_EVERY_30)
    with pytest.raises(ValueError):
        Workload(0, 30)


def test_records_per_invocation_follow_the_pollers_and_stop_at_the_batch_size() -> None:
    # 16.7 ticks/s over 4 on-demand shards polled once a second: about 4 records an invocation
    assert records_per_invocation(500 / 30, 4, 1.0, 100) == pytest.approx(4.1667, abs=1e-4)
    # the table's stream, one shard polled four times a second
    assert records_per_invocation(500 / 30, 1, 4.0, 100) == pytest.approx(4.1667, abs=1e-4)
    assert records_per_invocation(0.5, 4, 1.0, 100) == 1.0  # never below one
    assert records_per_invocation(10_000, 1, 1.0, 100) == 100.0  # never above the batch size


def test_fit_separates_the_part_per_invocation_from_the_part_per_record() -> None:
    # 3 requests per invocation plus 1 per record, seen at 1 and 5 records
    assert fit(1, 4, 5, 8) == Linear(3.0, 1.0)
    # the same quantity per invocation whatever the batch, with noise: a constant
    assert fit(1, 2.1, 5, 1.9) == Linear(2.0, 0.0)
    # a line that would start below zero: the best one through the origin
    line = fit(1, 0.5, 5, 6.0)
    assert line.fixed == 0.0 and line.per_record == pytest.approx((0.5 + 30) / 26)
    # one batch size only: all of it per record
    assert fit(5, 10, 5, 10) == Linear(0.0, 2.0)
    assert Linear(3.0, 1.0).per_tick(4) == pytest.approx(7 / 4)


def test_lambda_requests_and_gb_seconds() -> None:
    # GIVEN each function costs 40 ms plus 2 ms per record, at 256 MB
    each = function(duration=Linear(40.0, 2.0))
    usage = monthly_usage(design(each, each), Workload(500, 30), NO_EXTRAS)
    invocations = MONTH_TICKS_500_EVERY_30 / (500 / 30 / 4)  # per function: a batch of 4.17 records
    assert usage["lambda.requests"] == pytest.approx(2 * invocations)
    # 40 + 2 * 4.1667 = 48.33 ms, billed as 49 ms; a quarter GB
    assert usage["lambda.gb_seconds"] == pytest.approx(2 * invocations * 0.049 * 0.25)
    bill = monthly_cost(usage)
    assert bill["lambda"] == pytest.approx(2 * invocations * (0.2e-6 + 0.049 * 0.25 * 0.0000166667))


def test_kinesis_on_demand_rounds_each_record_up_to_a_kilobyte_and_provisioned_bills_shards() -> None:
    workload = Workload(500, 30)
    on_demand = monthly_usage(design(record_bytes=200), workload, NO_EXTRAS)
    gb = MONTH_TICKS_500_EVERY_30 * 1024 / 2**30
    assert on_demand["kinesis.stream_hours"] == 730
    assert on_demand["kinesis.ingested_gb"] == pytest.approx(gb)
    assert monthly_cost(on_demand)["kinesis"] == pytest.approx(730 * 0.04 + gb * 0.08 + gb * 0.04)

    provisioned = monthly_usage(design(record_bytes=200), workload,
                                Deployment(kinesis_shards=1, point_in_time_recovery=False, active_tracing=False))
    assert "kinesis.stream_hours" not in provisioned
    assert monthly_cost(provisioned)["kinesis"] == pytest.approx(730 * 0.015 + MONTH_TICKS_500_EVERY_30 * 0.014e-6)


def test_the_reference_pattern_pays_a_put_item_and_an_s3_put_per_tick_and_a_query_per_tick() -> None:
    measured = design(item_bytes=250.0, per_tick={"sns.publish_requests": 0.01, "sqs.requests": 0.01})
    reference = reference_design(measured, long_window=20)
    usage = monthly_usage(reference, Workload(500, 30), NO_EXTRAS)
    ticks = MONTH_TICKS_500_EVERY_30
    assert usage["s3.put_requests"] == pytest.approx(ticks)
    assert usage["dynamodb.write_request_units"] == pytest.approx(ticks)  # 250 bytes: one unit
    # 20 items of 250 bytes = 5,000 bytes: two 4 KB steps, eventually consistent
    assert usage["dynamodb.read_request_units"] == pytest.approx(ticks * 1.0)
    assert usage["sns.publish_requests"] == pytest.approx(ticks * 0.01)
    bill = monthly_cost(usage)
    assert bill["s3"] == pytest.approx(ticks * 0.005 / 1000 + ticks * 220 / 2**30 * 0.023)
    assert bill["sns"] == pytest.approx(ticks * 0.01 * 0.5e-6)


def test_storage_backups_and_tracing() -> None:
    usage = monthly_usage(design(item_bytes=250.0), Workload(500, 30), Deployment())
    stored = MONTH_TICKS_500_EVERY_30 * 350 / 2**30  # 100 bytes of overhead per item
    assert usage["dynamodb.storage_gb_months"] == pytest.approx(stored)
    assert usage["dynamodb.pitr_gb_months"] == pytest.approx(stored)
    # each function invoked 4 times a second: 1 sampled, then 5% of the other 3, per function
    assert usage["xray.traces_recorded"] == pytest.approx(2 * (1 + 0.05 * 3) * 730 * 3600)


def test_compare_gives_both_totals_per_service_and_their_ratio() -> None:
    measured = design(function({"dynamodb.write_request_units": Linear(0.0, 1.0)}))
    reference = reference_design(measured, 20)
    bill = cost.compare(measured, reference, Workload(500, 30), NO_EXTRAS)
    assert set(bill["per_service"]) >= {"lambda", "kinesis", "dynamodb", "s3"}
    assert bill["this_design"] == pytest.approx(sum(s["this_design"] for s in bill["per_service"].values()), abs=0.05)
    assert bill["ratio"] == pytest.approx(bill["this_design"] / bill["reference"], abs=1e-3)
    assert bill["per_service"]["s3"]["reference"] > bill["per_service"]["s3"]["this_design"]
    assert bill["prices"]["as_published"] == prices.AS_PUBLISHED
    json.dumps(bill)  # JSON-ready


def test_every_meter_the_model_fills_has_a_price_with_its_source() -> None:
    usage = monthly_usage(design(function({"s3.get_requests": Linear(1.0, 0.0), "cloudwatch.api_requests": Linear(
        1.0, 0.0)})), Workload(10, 1), Deployment(kinesis_shards=None))
    usage |= monthly_usage(design(), Workload(10, 1), Deployment(kinesis_shards=2))
    assert set(usage) <= set(prices.METERS)
    for meter, price in prices.METERS.items():
        assert price["source"].startswith("https://aws.amazon.com/"), meter
        assert price["usd"] > 0 and price["per"] >= 1
    with pytest.raises(KeyError):
        monthly_cost({"made.up": 1.0})


def test_a_profile_survives_the_results_file_and_prices_another_workload(tmp_path) -> None:
    # GIVEN a results file as `make bench` writes it
    measured = design(function({"dynamodb.write_request_units": Linear(0.5, 1.0)}, duration=Linear(30, 1)))
    assert DesignProfile.from_dict(json.loads(json.dumps(measured.to_dict()))) == measured
    out = tmp_path / "latest.json"
    out.write_text(json.dumps({
        "cost_profile": measured.to_dict(), "sma_windows": {"short": 5, "long": 20},
        "monthly_cost_usd": {"deployment": {**NO_EXTRAS.__dict__}, "assumptions": ["a"]}}))

    # WHEN it is priced again at another workload (`scripts/bench.py --cost-only`)
    args = parser().parse_args(["--cost-only", "--out", str(out), "--cost-symbols", "100", "--cost-every", "60"])
    bill = cost_only(args)

    # THEN the workload is the one asked for, and the arithmetic the same as from the profile directly
    assert bill["workload"]["symbols"] == 100 and bill["workload"]["every_seconds"] == 60
    direct = monthly_cost(monthly_usage(measured, Workload(100, 60), NO_EXTRAS))
    assert bill["this_design"] == pytest.approx(sum(direct.values()), abs=0.01)
    assert not math.isnan(bill["ratio"])
