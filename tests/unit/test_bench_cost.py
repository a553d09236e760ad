"""The cost model's arithmetic: bursts and batches, the bill per service, the reference design as documented."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace

import pytest

from tickstack.bench import cost, prices
from tickstack.bench.cost import (
    REFERENCE_DEPLOYMENT,
    Batches,
    Deployment,
    DesignProfile,
    FunctionProfile,
    Linear,
    Workload,
    batches,
    fit,
    monthly_cost,
    monthly_usage,
    provisioned_units,
    reference_deployment,
    reference_design,
    traces_per_burst,
)
from tickstack.bench.run import cost_assumptions, cost_only, parser

MONTH_TICKS_500_EVERY_30 = 500 / 30 * 730 * 3600  # 43.8 million
BURSTS_EVERY_30 = 730 * 3600 / 30  # 87,600 bursts a month
SMALL = Workload(10, 30)  # 10 symbols every 30 s: 876,000 ticks a month
SMALL_TICKS = 10 * BURSTS_EVERY_30
LAMBDA_REQUEST = 0.2e-6
GB_SECOND = 0.0000166667


NOTHING = Linear()


def function(meters=None, duration=NOTHING, log_bytes=NOTHING, memory_mb=256, batch_size=100) -> FunctionProfile:
    return FunctionProfile(memory_mb=memory_mb, batch_size=batch_size, duration_ms=duration, log_bytes=log_bytes,
                           meters=meters or {})


def design(process=None, trend=None, per_tick=None, record_bytes=200.0, item_bytes=250.0, archived=220.0):
    return DesignProfile(name="d", process=process or function(), trend=trend or function(),
                         per_tick=per_tick or {}, record_bytes=record_bytes, stored_item_bytes=item_bytes,
                         archived_bytes=archived)


OFF = {"point_in_time_recovery": False, "active_tracing": False}
ON_DEMAND_TABLES = Deployment(tables_provisioned=False, **OFF)
NO_EXTRAS = Deployment(**OFF)
TWO_SHARDS = Deployment(kinesis_shards=2, **OFF)


def test_a_workload_is_a_burst_of_every_symbol_every_interval() -> None:
    workload = Workload(500, 30)
    assert workload.ticks_per_second == pytest.approx(16.667, abs=1e-3)
    assert workload.bursts == pytest.approx(87_600)
    assert workload.ticks == pytest.approx(MONTH_TICKS_500_EVERY_30)
    with pytest.raises(ValueError):
        Workload(0, 30)


def test_a_burst_spreads_evenly_over_the_shards_and_each_share_is_read_a_batch_at_a_time() -> None:
    # 10 symbols over 2 shards: 5 each; a batch size of 3 reads 5 in 2 invocations: 4 of 2.5 records
    assert batches(10, 2, 3) == Batches(invocations=4, records=2.5, busiest_shard_invocations=2)
    # 10 over 4 shards: 3, 3, 2, 2 records; at most 2 an invocation: 2 + 2 + 1 + 1
    assert batches(10, 4, 2) == Batches(invocations=6, records=10 / 6, busiest_shard_invocations=2)
    # fewer symbols than shards: the empty shards invoke nothing
    assert batches(1, 4, 100) == Batches(invocations=1, records=1.0, busiest_shard_invocations=1)
    # 500 symbols: on one shard, 5 full batches of 100; over 4, 125 each, 2 invocations each
    assert batches(500, 1, 100) == Batches(invocations=5, records=100.0, busiest_shard_invocations=5)
    assert batches(500, 4, 100) == Batches(invocations=8, records=62.5, busiest_shard_invocations=2)
    # the reference's batch size of 2 over an on-demand stream's 4 shards: ceil(125 / 2) = 63 each
    assert batches(500, 4, 2).invocations == 252
    with pytest.raises(ValueError):
        batches(10, 0, 3)


def test_each_function_is_batched_off_its_own_stream_with_its_own_batch_size() -> None:
    # GIVEN 10 symbols every 30 s on 2 Kinesis shards; the process function reads 3 at a time, the trend 4
    measured = design(function(batch_size=3), function(batch_size=4))
    taken = cost.batching(measured, SMALL, TWO_SHARDS)
    # THEN the process function takes 5 a shard in 2 invocations; the trend, one table-stream shard, 10 in 3
    assert taken["process"] == Batches(4, 2.5, 2)
    assert taken["trend"] == Batches(3, 10 / 3, 3)


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


def test_lambda_requests_gb_seconds_and_logs_follow_the_batches_of_a_burst() -> None:
    # GIVEN each function costs 40 ms plus 2 ms per record and logs 600 bytes plus 100 per record, at 256 MB
    each = {"duration": Linear(40.0, 2.0), "log_bytes": Linear(600.0, 100.0)}
    measured = design(function(batch_size=3, **each), function(batch_size=4, **each))
    usage = monthly_usage(measured, SMALL, TWO_SHARDS)
    # per burst: process 4 invocations of 2.5 records (45 ms), trend 3 of 3.33 (46.67 ms, billed 47)
    assert usage["lambda.requests"] == pytest.approx(BURSTS_EVERY_30 * 7)
    assert usage["lambda.gb_seconds"] == pytest.approx(BURSTS_EVERY_30 * (4 * 0.045 + 3 * 0.047) * 0.25)
    # logs: 7 invocations' fixed 600 bytes, and 100 for each of the burst's 10 records in each function
    assert usage["logs.ingested_gb"] == pytest.approx(BURSTS_EVERY_30 * (7 * 600 + 2 * 10 * 100) / 2**30)
    assert monthly_cost(usage)["lambda"] == pytest.approx(
        BURSTS_EVERY_30 * (7 * LAMBDA_REQUEST + (4 * 0.045 + 3 * 0.047) * 0.25 * GB_SECOND))


def test_the_reference_is_priced_at_its_own_batch_size_of_2_and_its_own_deployment() -> None:
    # GIVEN this design's functions read 100 records at a time and cost 40 ms + 2 ms and 600 + 100 bytes a record
    each = {"duration": Linear(40.0, 2.0), "log_bytes": Linear(600.0, 100.0)}
    measured = design(function(**each), function(**each))
    reference = reference_design(measured, long_window=20)
    assert (reference.process.batch_size, reference.trend.batch_size) == (2, 100)
    assert reference.process.memory_mb == reference.trend.memory_mb == 128

    usage = monthly_usage(reference, SMALL, REFERENCE_DEPLOYMENT)

    # THEN a burst of 10 over the on-demand stream's 4 shards (3, 3, 2, 2) takes 2 + 2 + 1 + 1 = 6 process
    # invocations of 10/6 records (43.3 ms, billed 44), the table stream's 10 one trend invocation (60 ms)
    assert usage["lambda.requests"] == pytest.approx(BURSTS_EVERY_30 * (6 + 1))
    assert usage["lambda.gb_seconds"] == pytest.approx(BURSTS_EVERY_30 * (6 * 0.044 + 0.060) * 128 / 1024)
    assert usage["logs.ingested_gb"] == pytest.approx(BURSTS_EVERY_30 * (7 * 600 + 2 * 10 * 100) / 2**30)
    # while this design, on 1 provisioned shard, takes the burst in one invocation per function
    assert monthly_usage(measured, SMALL, NO_EXTRAS)["lambda.requests"] == pytest.approx(BURSTS_EVERY_30 * 2)
    # on demand, without backups or traces
    assert usage["kinesis.stream_hours"] == 730
    assert "dynamodb.pitr_gb_months" not in usage and "xray.traces_recorded" not in usage


def test_the_reference_pattern_pays_a_put_item_and_an_s3_put_per_tick_and_a_query_per_tick() -> None:
    measured = design(item_bytes=250.0, per_tick={"sns.publish_requests": 0.01, "sqs.requests": 0.01})
    reference = reference_design(measured, long_window=20)
    usage = monthly_usage(reference, Workload(500, 30), replace(REFERENCE_DEPLOYMENT, tables_provisioned=False))
    ticks = MONTH_TICKS_500_EVERY_30
    assert usage["s3.put_requests"] == pytest.approx(ticks)
    assert usage["dynamodb.write_request_units"] == pytest.approx(ticks)  # 250 bytes: one unit
    # 20 items of 250 bytes = 5,000 bytes: two 4 KB steps, eventually consistent
    assert usage["dynamodb.read_request_units"] == pytest.approx(ticks * 1.0)
    assert usage["sns.publish_requests"] == pytest.approx(ticks * 0.01)
    bill = monthly_cost(usage)
    assert bill["s3"] == pytest.approx(ticks * 0.005 / 1000 + ticks * 220 / 2**30 * 0.023)
    assert bill["sns"] == pytest.approx(ticks * 0.01 * 0.5e-6)


def test_kinesis_on_demand_rounds_each_record_up_to_a_kilobyte_and_provisioned_bills_shards() -> None:
    on_demand = monthly_usage(design(record_bytes=200), SMALL, Deployment(kinesis_shards=None, **OFF))
    gb = SMALL_TICKS * 1024 / 2**30
    assert on_demand["kinesis.stream_hours"] == 730
    assert on_demand["kinesis.ingested_gb"] == pytest.approx(gb)
    assert on_demand["kinesis.retrieved_gb"] == pytest.approx(gb)
    assert "kinesis.shard_hours" not in on_demand
    assert monthly_cost(on_demand)["kinesis"] == pytest.approx(730 * 0.04 + gb * 0.08 + gb * 0.04)

    provisioned = monthly_usage(design(record_bytes=200), SMALL, TWO_SHARDS)
    assert "kinesis.stream_hours" not in provisioned and "kinesis.ingested_gb" not in provisioned
    assert provisioned["kinesis.shard_hours"] == 2 * 730
    assert provisioned["kinesis.put_payload_units"] == pytest.approx(SMALL_TICKS)  # one 25 KB unit a record
    assert monthly_cost(provisioned)["kinesis"] == pytest.approx(2 * 730 * 0.015 + SMALL_TICKS * 0.014e-6)
    # the default deployment: the Terraform default, one provisioned shard
    assert monthly_usage(design(), SMALL, Deployment())["kinesis.shard_hours"] == 730



def test_on_demand_tables_bill_the_request_units_counted() -> None:
    measured = design(function({"dynamodb.write_request_units": Linear(0.0, 2.0)}),
                      function({"dynamodb.read_request_units": Linear(0.0, 1.0)}))
    usage = monthly_usage(measured, Workload(500, 30), ON_DEMAND_TABLES)
    assert usage["dynamodb.write_request_units"] == pytest.approx(2 * MONTH_TICKS_500_EVERY_30)
    assert usage["dynamodb.read_request_units"] == pytest.approx(MONTH_TICKS_500_EVERY_30)
    assert "dynamodb.write_capacity_unit_hours" not in usage
    assert monthly_cost(usage)["dynamodb"] == pytest.approx(
        MONTH_TICKS_500_EVERY_30 * (2 * 0.625e-6 + 0.125e-6) + usage["dynamodb.storage_gb_months"] * 0.25)


def test_provisioned_tables_bill_the_capacity_scaling_keeps_at_its_target() -> None:
    # GIVEN 2 write units and 1 read unit per tick, 500 symbols every 30 s: 33.3 and 16.7 units a second
    measured = design(function({"dynamodb.write_request_units": Linear(0.0, 2.0)}),
                      function({"dynamodb.read_request_units": Linear(0.0, 1.0)}))
    deployment = Deployment(table_target_utilization=70.0, table_min_units=1, tables=3, **OFF)
    usage = monthly_usage(measured, Workload(500, 30), deployment)
    # THEN capacity is the steady rate over 70%, plus each of the 3 tables' floor of 1 unit, all month
    write_units, read_units = 500 / 30 * 2 / 0.7 + 3, 500 / 30 / 0.7 + 3
    assert usage["dynamodb.write_capacity_unit_hours"] == pytest.approx(write_units * 730)
    assert usage["dynamodb.read_capacity_unit_hours"] == pytest.approx(read_units * 730)
    assert "dynamodb.write_request_units" not in usage and "dynamodb.read_request_units" not in usage
    storage = usage["dynamodb.storage_gb_months"] * 0.25
    assert monthly_cost(usage)["dynamodb"] == pytest.approx(730 * (write_units * 0.00065 + read_units * 0.00013)
                                                            + storage)
    # AND at that steady poll it costs about 40% of the same requests on demand
    on_demand = monthly_cost(monthly_usage(measured, Workload(500, 30), ON_DEMAND_TABLES))["dynamodb"]
    assert 0.38 < (monthly_cost(usage)["dynamodb"] - storage) / (on_demand - storage) < 0.45


def test_a_burst_must_fit_in_the_capacity_banked_since_the_last() -> None:
    deployment = Deployment(table_target_utilization=70.0, table_min_units=2, tables=1, **OFF)
    # every 60 s: 1,000 units a burst; the steady rate over 70% (23.8/s) banks 1,428 in 60 s: enough
    assert provisioned_units(1000 * 43_800, Workload(1000, 60), deployment) == pytest.approx(1000 / 60 / 0.7 + 2)
    # every 20 minutes: DynamoDB banks at most 300 s, so a burst of 1,000 needs 3.33 units a second, not 1.19
    every_20_min = Workload(1000, 1200)
    assert provisioned_units(1000 * every_20_min.bursts, every_20_min, deployment) == pytest.approx(1000 / 300 + 2)


def test_the_reference_table_is_billed_as_this_design_s_but_stays_one_table() -> None:
    ours = Deployment(tables_provisioned=True, table_target_utilization=50.0, table_min_units=5)
    theirs = reference_deployment(ours)
    assert (theirs.tables_provisioned, theirs.table_target_utilization, theirs.table_min_units) == (True, 50.0, 5)
    assert theirs.tables == 1
    assert (theirs.kinesis_shards, theirs.point_in_time_recovery, theirs.active_tracing) == (None, False, False)
    assert not reference_deployment(replace(ours, tables_provisioned=False)).tables_provisioned


def test_a_deployment_refuses_impossible_table_capacity() -> None:
    for bad in ({"table_target_utilization": 0.0}, {"table_target_utilization": 120.0}, {"table_min_units": 0},
                {"tables": 0}):
        with pytest.raises(ValueError):
            Deployment(**bad)


def test_storage_and_backups() -> None:
    usage = monthly_usage(design(item_bytes=250.0), Workload(500, 30), Deployment())
    stored = MONTH_TICKS_500_EVERY_30 * 350 / 2**30  # 100 bytes of overhead per item
    assert usage["dynamodb.storage_gb_months"] == pytest.approx(stored)
    assert usage["dynamodb.pitr_gb_months"] == pytest.approx(stored)
    assert "dynamodb.pitr_gb_months" not in monthly_usage(design(item_bytes=250.0), Workload(500, 30), NO_EXTRAS)


def test_xray_records_a_burst_s_first_invocation_of_each_busy_second_and_5_percent_of_the_rest() -> None:
    traced = Deployment(kinesis_shards=2, point_in_time_recovery=False, active_tracing=True)
    # GIVEN quick invocations: a burst keeps each function busy under a second
    quick = design(function(batch_size=3), function(batch_size=4))
    # THEN per burst, process 4 invocations: 1 + 5% of 3; trend 3: 1 + 5% of 2
    assert monthly_usage(quick, SMALL, traced)["xray.traces_recorded"] == pytest.approx(
        BURSTS_EVERY_30 * ((1 + 0.05 * 3) + (1 + 0.05 * 2)))
    # GIVEN invocations of 2 s: the process function's busiest shard runs 2 (4 s), the trend's 3 (6 s)
    slow = design(function(batch_size=3, duration=Linear(2000.0, 0.0)),
                  function(batch_size=4, duration=Linear(2000.0, 0.0)))
    # THEN each invocation starts in a second of its own and is recorded
    assert monthly_usage(slow, SMALL, traced)["xray.traces_recorded"] == pytest.approx(BURSTS_EVERY_30 * (4 + 3))
    # busy longer than the interval: a reservoir for each of its 30 seconds only
    assert traces_per_burst(100, 50.0, SMALL, traced) == pytest.approx(30 + 0.05 * 70)
    assert "xray.traces_recorded" not in monthly_usage(quick, SMALL, TWO_SHARDS)


def test_compare_prices_each_design_as_deployed_per_service() -> None:
    measured = design(function({"dynamodb.write_request_units": Linear(0.0, 1.0)}))
    reference = reference_design(measured, 20)
    bill = cost.compare(measured, reference, Workload(500, 30), Deployment(), REFERENCE_DEPLOYMENT)
    assert set(bill["per_service"]) >= {"lambda", "kinesis", "dynamodb", "s3"}
    assert bill["this_design"] == pytest.approx(sum(s["this_design"] for s in bill["per_service"].values()), abs=0.05)
    assert bill["reference"] == pytest.approx(sum(s["reference"] for s in bill["per_service"].values()), abs=0.05)
    assert bill["ratio"] == pytest.approx(bill["this_design"] / bill["reference"], abs=1e-3)
    assert bill["per_service"]["s3"]["reference"] > bill["per_service"]["s3"]["this_design"]
    # each design with its own deployment: PITR and traces billed to this design only
    assert bill["deployment"] == {"this_design": asdict(Deployment()), "reference": asdict(REFERENCE_DEPLOYMENT)}
    assert bill["per_service"]["xray"]["reference"] == 0 < bill["per_service"]["xray"]["this_design"]
    assert "dynamodb.pitr_gb_months" in bill["usage"]["this_design"]
    assert "dynamodb.pitr_gb_months" not in bill["usage"]["reference"]
    # batches per design and function: 500 on 1 provisioned shard; the reference's pairs on 4 on-demand shards
    assert bill["records_per_invocation"] == {"this_design": {"process": 100.0, "trend": 100.0},
                                              "reference": {"process": 1.98, "trend": 100.0}}
    assert bill["invocations_per_burst"]["reference"] == {"process": 252, "trend": 5}
    assert bill["requests_per_tick"]["reference"] == {"process": 2.0, "trend": 1.0}
    assert bill["prices"]["as_published"] == prices.AS_PUBLISHED
    json.dumps(bill)  # JSON-ready


def test_the_assumptions_state_each_design_s_deployment_and_batches() -> None:
    measured = design()
    bill = cost.compare(measured, reference_design(measured, 20), Workload(500, 30), Deployment(),
                        reference_deployment(Deployment()))
    text = "\n".join(cost_assumptions(bill))
    assert "burst of 500 records lands every 30 s" in text
    assert ("a provisioned stream of 1 shard, 3 tables provisioned, scaled to 70% utilization from 1 unit, "
            "point-in-time recovery on, active tracing on") in text
    assert "billed as this design's (1 table provisioned, scaled to 70% utilization from 1 unit)" in text
    assert "batch size 2" in text and "neither point-in-time recovery nor active tracing" in text
    assert "process 252 invocations of 1.98 records" in text
    assert "polled once a second" not in text


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


def _results_file(tmp_path, measured: DesignProfile, deployment: dict):
    out = tmp_path / "latest.json"
    out.write_text(json.dumps({
        "cost_profile": measured.to_dict(), "sma_windows": {"short": 5, "long": 20},
        "monthly_cost_usd": {"deployment": deployment, "assumptions": ["a"]}}))
    return out


def _cost_only(out, *extra: str) -> dict:
    return cost_only(parser().parse_args(["--cost-only", "--out", str(out), *extra]))


def test_a_profile_survives_the_results_file_and_prices_another_workload(tmp_path) -> None:
    # GIVEN a results file as `make bench` writes it, with both designs' deployments
    measured = design(function({"dynamodb.write_request_units": Linear(0.5, 1.0)}, duration=Linear(30, 1)))
    assert DesignProfile.from_dict(json.loads(json.dumps(measured.to_dict()))) == measured
    theirs = Deployment(kinesis_shards=None, on_demand_shards=1, **OFF)
    out = _results_file(tmp_path, measured, {"this_design": asdict(NO_EXTRAS), "reference": asdict(theirs)})

    # WHEN it is priced again at another workload (`scripts/bench.py --cost-only`)
    bill = _cost_only(out, "--cost-symbols", "100", "--cost-every", "60")

    # THEN the workload is the one asked for, each design priced with its saved deployment
    assert bill["workload"]["symbols"] == 100 and bill["workload"]["every_seconds"] == 60
    assert bill["deployment"] == {"this_design": asdict(NO_EXTRAS), "reference": asdict(theirs)}
    direct = monthly_cost(monthly_usage(measured, Workload(100, 60), NO_EXTRAS))
    assert bill["this_design"] == pytest.approx(sum(direct.values()), abs=0.01)
    reference = monthly_cost(monthly_usage(reference_design(measured, 20), Workload(100, 60), theirs))
    assert bill["reference"] == pytest.approx(sum(reference.values()), abs=0.01)
    assert not math.isnan(bill["ratio"])
    assert bill["assumptions"] != ["a"]  # written again for this bill

    # AND --kinesis-shards prices this design on that many provisioned shards (0: on demand), not the reference
    bill = _cost_only(out, "--kinesis-shards", "3")
    assert bill["deployment"]["this_design"]["kinesis_shards"] == 3
    assert bill["deployment"]["reference"] == asdict(theirs)
    assert _cost_only(out, "--kinesis-shards", "0")["deployment"]["this_design"]["kinesis_shards"] is None


def test_an_older_results_file_with_one_deployment_prices_the_reference_as_documented(tmp_path) -> None:
    old = {"kinesis_shards": None, "on_demand_shards": 4, "kinesis_polls_per_second": 1.0, "table_stream_shards": 1,
           "table_stream_polls_per_second": 4.0, "point_in_time_recovery": True, "active_tracing": True,
           "xray_reservoir_per_second": 1.0, "xray_rate": 0.05}
    bill = _cost_only(_results_file(tmp_path, design(), old))
    assert bill["deployment"]["this_design"] == asdict(Deployment(kinesis_shards=None))
    assert bill["deployment"]["reference"] == asdict(REFERENCE_DEPLOYMENT)


def test_a_results_file_without_a_profile_is_refused_with_a_clear_message(tmp_path) -> None:
    out = tmp_path / "latest.json"
    out.write_text(json.dumps({"ticks": 1}))
    with pytest.raises(SystemExit, match="cost_profile"):
        _cost_only(out)
