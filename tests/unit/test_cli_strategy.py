"""backtest, verify and import on the command line; the fast backtest equals the one-process backtest.

No network: `verify` runs against a fake stack whose audit queue holds the SNS notifications of
given alerts, and `dev` is only asked of the aws target, which refuses before anything runs.
"""

from __future__ import annotations

import json
import random
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import stock_pipeline.ticks as ticks
from stock_pipeline.trend import PricePoint, TrendState, advance, build_alert
from tests.conftest import FIXTURE
from tickstack.cli import app, strategy
from tickstack.ops import verify as fast
from tickstack.ops.alerts import ALERT_FIELDS
from tickstack.ops.backtest import analyse, backtest, load_recording
from tickstack.settings import Settings
from tickstack.targets.ministack import MiniStack

runner = CliRunner()


def fixture_ticks() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines()]


def envelope(alert: dict, sent_at: str = "2026-11-25T12:00:00.000Z") -> dict:
    """The audit queue's message for one alert, as SNS delivers what the trend function publishes."""
    attributes = {"alert_id": alert["alert_id"], "symbol": alert["symbol"], "signal": alert["signal"],
                  "price": alert["price"], "timestamp": alert["timestamp"], "sma_short": alert["sma5"],
                  "sma_long": alert["sma20"]}
    body = {"Type": "Notification", "Subject": alert["subject"], "Message": alert["message"], "Timestamp": sent_at,
            "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in attributes.items()}}
    return {"Body": json.dumps(body)}


class FakeStack(MiniStack):
    """A deployed, running emulator whose audit queue holds `messages`; nothing listens anywhere."""

    def __init__(self, home: Path, messages: list[dict], windows: dict | None = None):
        super().__init__(Settings(home=home, port=1, region="us-east-1", name_prefix="t"))
        self.messages = messages
        self.home.mkdir(parents=True)
        outputs = {"alert_audit_queue_url": "queue", "function_names": {"process": "p", "trend": "t"}}
        if windows is not None:
            outputs["sma_windows"] = windows
        self.outputs_path.write_text(json.dumps(outputs))

    def healthy(self) -> bool:
        return True

    def audit_messages(self, queue_url: str) -> list[dict]:
        assert queue_url == "queue"
        return self.messages


@pytest.fixture
def stack_sending(tmp_path, monkeypatch):
    """Make `--target` resolve to a fake stack that sent the given alerts (with the given windows)."""

    def make(alerts: list[dict], windows: dict | None = None) -> FakeStack:
        stack = FakeStack(tmp_path / "home", [envelope(a) for a in alerts], windows)
        monkeypatch.setattr(strategy, "target", lambda name: stack)
        return stack

    return make


# --- backtest ----------------------------------------------------------------------------------------


def test_backtest_json_is_the_alerts_json_of_the_same_crosses():
    result = runner.invoke(app, ["backtest", str(FIXTURE), "--json"])

    assert result.exit_code == 0, result.output
    alerts = json.loads(result.stdout)
    assert alerts == backtest(FIXTURE).alerts
    assert [list(a) for a in alerts] == [list(ALERT_FIELDS)] * 2
    assert [(a["signal"], a["timestamp"], a["sent_at"], a["deliveries"]) for a in alerts] == [
        ("GOLDEN_CROSS", "2012-11-26T21:00:00Z", None, 1), ("DEATH_CROSS", "2012-12-07T21:00:00Z", None, 1)]
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("80 ticks from 1 file: 80 stored for 1 symbol (AAPL), 0 rejected; 2 alerts; ")
    assert summary.endswith(" ticks/s")


def test_backtest_prints_the_alerts_as_tickstack_alerts_does_and_counts_rejections(tmp_path):
    recording = tmp_path / "mixed.jsonl"
    recording.write_text(FIXTURE.read_text() + "{not json\n\n[1]\n{also not json\nnope\n")

    result = runner.invoke(app, ["backtest", str(recording)])

    assert result.exit_code == 0, result.output
    assert "alerts the pipeline would send: 2 (SMA 5/20)" in result.stdout
    assert "AAPL GOLDEN_CROSS  tick 2012-11-26T21:00:00Z  price 589.53" in result.stdout
    assert "  SMA short 569.8747  SMA long 565.8880" in result.stdout
    assert "sent" not in result.stdout.replace("would send", "")
    assert f"rejected 1× payload must be a JSON object, got array (first {recording}:83)" in result.stderr
    assert ("rejected 2× payload is not valid JSON: Expecting property name enclosed in double quotes: line 1 "
            f"column 2 (char 1) (first {recording}:81)") in result.stderr
    assert "84 ticks from 1 file: 80 stored for 1 symbol (AAPL), 4 rejected (3 reasons); 2 alerts" in result.stderr


def test_backtest_takes_other_windows_and_refuses_a_short_one_not_below_the_long_one():
    result = runner.invoke(app, ["backtest", str(FIXTURE), "--short", "3", "--long", "10", "--json"])
    assert json.loads(result.stdout) == backtest(FIXTURE, 3, 10).alerts

    refused = runner.invoke(app, ["backtest", str(FIXTURE), "--short", "20", "--long", "20"])
    assert refused.exit_code == 1
    assert refused.output.strip() == "error: --short 20 --long 20: need 1 <= short window < long window, got 20 and 20"


# --- the fast backtest is the backtest -----------------------------------------------------------------


def other_symbol(tick: dict, symbol: str, scale: float) -> dict:
    return {**tick, "symbol": symbol, **{k: round(tick[k] * scale, 2) for k in
                                         ("open", "dayHigh", "dayLow", "lastPrice", "previousClose")}}


@pytest.fixture
def recordings(tmp_path) -> list[Path]:
    """Four symbols interleaved, bad and blank lines, repeated keys, and a second file overwriting the first."""
    base = fixture_ticks()
    lines = []
    for i, tick in enumerate(base):
        for symbol, scale in (("AAPL", 1.0), ("MSFT", 0.05), ("brk-b ", 0.3), ("IBM", 0.35)):
            lines.append(json.dumps(other_symbol(tick, symbol, scale)))
        if i % 17 == 0:
            lines += ["", "{not json", json.dumps({**tick, "dayHigh": 1.0})]
    random.Random(7).shuffle(lines[40:])
    lines += lines[100:130]
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(lines) + "\n")
    second = tmp_path / "second.jsonl"
    second.write_text("\n".join(json.dumps(other_symbol(t, "MSFT", 0.06)) for t in base[30:50]))
    return [first, second]


@pytest.fixture
def in_parallel(monkeypatch):
    monkeypatch.setattr(fast, "PARALLEL_FROM_LINES", 0)
    monkeypatch.setattr(fast, "_can_fork", lambda: True)


def test_the_backtest_shared_out_between_processes_equals_the_backtest_in_one(recordings, in_parallel):
    expected = backtest(recordings)
    assert expected.rejected and expected.overwritten and len(expected.symbols) == 4  # the fixture is what it says

    for workers in (2, 3):
        assert fast.run_backtest(recordings, workers=workers) == expected
    assert fast.run_backtest(recordings * 2, 3, 10, workers=2) == backtest(recordings * 2, 3, 10)


def test_alerts_are_ordered_as_analyse_orders_them(recordings):
    alerts = analyse(load_recording(recordings)).alerts
    assert alerts == sorted(alerts, key=fast._alert_order) and len({a["symbol"] for a in alerts}) == 4


def test_a_tick_routed_to_the_wrong_worker_sends_the_run_back_to_one_process(recordings, in_parallel, monkeypatch,
                                                                              tmp_path):
    # A symbol written with an escape: the routing hint cannot read it (so sends it to worker 0), validation can.
    owner = fast._share_out(fast._symbol_counts(path.read_bytes() for path in recordings), 2)
    symbol = next(symbol for symbol, worker in owner.items() if worker == 1)
    escaped = symbol[:-1] + f"\\u{ord(symbol[-1]):04x}"
    tricky = tmp_path / "escaped.jsonl"
    tick = {**fixture_ticks()[0], "symbol": "@", "timestamp": "2013-01-02T21:00:00Z"}  # a day of its own
    tricky.write_text(json.dumps(tick).replace("@", escaped) + "\n")
    calls = []
    monkeypatch.setattr(fast, "backtest", lambda *a, **k: calls.append(a) or backtest(*a, **k))

    result = fast.run_backtest([*recordings, tricky], workers=2)

    assert len(calls) == 1 and result == backtest([*recordings, tricky])
    assert result.symbols[symbol] == backtest(recordings).symbols[symbol] + 1


def test_a_worker_that_fails_sends_the_run_back_to_one_process(recordings, in_parallel, monkeypatch):
    real = fast._run_share

    def failing(files, owner, me, short_window, long_window):
        if me == 1:
            raise MemoryError("a worker ran out")
        return real(files, owner, me, short_window, long_window)

    monkeypatch.setattr(fast, "_run_share", failing)
    assert fast.run_backtest(recordings, workers=2) == backtest(recordings)


def test_workers_are_forked_only_from_a_process_with_no_other_thread():
    import threading

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not fast._can_fork()
    finally:
        release.set()
        other.join()


# --- the functions' short paths give what their full checks give ------------------------------------


def full_check(raw):
    try:
        return repr(vars(ticks._checked_tick(raw)))
    except ticks.InvalidTick as exc:
        return exc.reason


def fast_check(raw):
    try:
        tick = ticks.validate_tick(raw)
    except ticks.InvalidTick as exc:
        return exc.reason
    assert type(tick) is ticks.Tick
    return repr(vars(tick))  # Decimal reprs: 589.50 and 589.5 are told apart


prices = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-7, max_value=2e9),
    st.sampled_from([1e-6, 1e9, 0.0, -0.0, 100.0, 589.53, 1.00002, 5e-324, 999999999.9999999]),
    st.integers(min_value=-5, max_value=2 * 10**9),
    st.sampled_from([True, False, None, "1.5", [1.0]]),
)
timestamps = st.one_of(
    st.sampled_from(["2012-11-26T21:00:00Z", "2012-02-30T21:00:00Z", "2012-11-26T24:00:00Z", "0999-01-01T00:00:00Z",
                     "1000-01-01T00:00:00Z", "2012-11-26T21:00:00+00:00", "2012-11-26 21:00:00Z",
                     "2012-W48-1T21:00:00Z", "2012-11-26T21:00:00.5Z", "2012-11-26T21:00:00",
                     "٢٠١٢-11-26T21:00:00Z", "0001-01-01T00:00:00+01:00", None, 7]),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
)
symbols = st.one_of(st.sampled_from(["AAPL", " aapl ", "BRK-B", "^GSPC", "", "AA PL", "A" * 17, "^.-", None, 5]),
                    st.text(max_size=6))


@settings(max_examples=400, deadline=None)
@given(symbol=symbols, timestamp=timestamps, open_=prices, high=prices, low=prices, last=prices, previous=prices,
       volume=st.one_of(st.integers(min_value=-2, max_value=10**16), st.floats(), st.sampled_from([True, None, "1"])))
def test_validate_tick_takes_a_short_path_only_to_the_same_result(symbol, timestamp, open_, high, low, last, previous,
                                                                   volume):
    raw = {"symbol": symbol, "timestamp": timestamp, "open": open_, "dayHigh": high, "dayLow": low,
           "lastPrice": last, "previousClose": previous, "lastVolume": volume}
    # Twice: the second time the memos of the first are in play.
    assert fast_check(raw) == full_check(raw)
    assert fast_check(raw) == full_check(raw)


def enrich_as_it_was(tick):
    """enrich before it lost its per-call local context: the reference for the arithmetic."""
    def round4(value):
        return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)

    with localcontext() as ctx:
        ctx.prec = 60
        change = tick.price - tick.previous_close
        change_percent = round4(change / tick.previous_close * 100)
        moving_average = round4((tick.open + tick.high + tick.low + tick.price) / 4)
        change = round4(change)
    return change, change_percent, moving_average


valid_prices = st.one_of(st.floats(min_value=1e-6, max_value=1e9), st.integers(min_value=1, max_value=10**9))


@settings(max_examples=400, deadline=None)
@given(open_=valid_prices, high=valid_prices, low=valid_prices, last=valid_prices, previous=valid_prices)
def test_enrich_computes_what_it_computed_in_a_local_context(open_, high, low, last, previous):
    high, low = max(high, low), min(high, low)
    tick = ticks.validate_tick({"symbol": "X", "timestamp": "2012-11-26T21:00:00Z", "open": open_, "dayHigh": high,
                                "dayLow": low, "lastPrice": last, "previousClose": previous, "lastVolume": 1})
    item = ticks.enrich(tick)
    assert tuple(map(repr, (item["change"], item["change_percent"], item["moving_average"]))) == tuple(
        map(repr, enrich_as_it_was(tick)))


@pytest.mark.parametrize("payload", [
    ' {"symbol": "AAPL"}', '{"symbol": "AAPL"} ', '{"symbol": "AAPL"}{}', '{"a": 1} x', "[1, 2]", '"AAPL"', "",
    "1e400", "[" * 4000, json.dumps(fixture_ticks()[0]),
    json.dumps(fixture_ticks()[0]) + "\n", b"\xff", "\ufeff" + json.dumps(fixture_ticks()[0]),
])
def test_parse_tick_scans_only_what_json_loads_reads_alike(payload):
    def through_loads(data):
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            return fast_check(json.loads(text))
        except UnicodeDecodeError as exc:
            return f"payload is not UTF-8 text ({exc.reason} at byte {exc.start})"
        except RecursionError:
            return "payload is not valid JSON: nested too deeply"
        except ValueError as exc:
            return f"payload is not valid JSON: {exc}"

    try:
        parsed = repr(vars(ticks.parse_tick(payload)))
    except ticks.InvalidTick as exc:
        parsed = exc.reason
    assert parsed == through_loads(payload)


# --- verify ------------------------------------------------------------------------------------------


def test_verify_passes_when_the_stack_sent_what_the_backtest_finds(stack_sending):
    stack_sending(backtest(FIXTURE).alerts * 2, {"short": 5, "long": 20})  # each delivered twice: not compared

    result = runner.invoke(app, ["verify", str(FIXTURE)])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "parity: 2 alerts identical (SMA 5/20, ministack)"


def test_verify_lists_what_is_missing_unexpected_or_different_and_fails(stack_sending):
    golden, death = backtest(FIXTURE).alerts
    other = {**golden, "symbol": "MSFT", "alert_id": "MSFT-2012-11-26T21:00:00Z-GOLDEN_CROSS"}  # not in the file
    extra = {**death, "alert_id": "AAPL-2012-12-10T21:00:00Z-DEATH_CROSS", "timestamp": "2012-12-10T21:00:00Z"}
    stack_sending([{**golden, "price": "589.5", "sma5": "569.87"}, extra, other])

    result = runner.invoke(app, ["verify", str(FIXTURE)])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "differs     AAPL GOLDEN_CROSS tick 2012-11-26T21:00:00Z:",
        '  price: backtest "589.53", stack "589.5"',
        '  sma5: backtest "569.8747", stack "569.87"',
        "missing     AAPL DEATH_CROSS tick 2012-12-07T21:00:00Z: the backtest finds it, the stack did not send it",
        "unexpected  AAPL DEATH_CROSS tick 2012-12-10T21:00:00Z: the stack sent it, the backtest does not find it",
    ]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: parity broken: 3 alerts differ (1 missing, 1 unexpected, 1 with other values), 0 identical")


def test_verify_says_to_replay_first_when_the_stack_sent_nothing_for_the_symbols(stack_sending):
    stack_sending([])
    result = runner.invoke(app, ["verify", str(FIXTURE)])
    assert result.exit_code == 1
    assert f"the stack sent nothing for these symbols: replay them first (tickstack replay {FIXTURE} --wait)" in (
        result.stderr)


def test_verify_backtests_with_the_windows_the_stack_was_deployed_with(stack_sending):
    stack_sending(backtest(FIXTURE, 3, 10).alerts, {"short": 3, "long": 10})

    assert runner.invoke(app, ["verify", str(FIXTURE)]).stdout.strip() == (
        f"parity: {len(backtest(FIXTURE, 3, 10).alerts)} alerts identical (SMA 3/10, ministack)")
    assert runner.invoke(app, ["verify", str(FIXTURE), "--short", "3"]).exit_code == 0
    refused = runner.invoke(app, ["verify", str(FIXTURE), "--short", "5", "--long", "20"])
    assert refused.exit_code == 1
    assert refused.output.strip().startswith("error: the stack analyses with SMA 3/10, not SMA 5/20")


def test_a_stack_deployed_before_the_windows_were_configurable_is_verified_with_the_defaults(stack_sending):
    stack = stack_sending(backtest(FIXTURE).alerts, windows=None)
    assert fast.deployment_windows(stack) == fast.Windows(5, 20, "default")
    assert runner.invoke(app, ["verify", str(FIXTURE)]).exit_code == 0


def test_compare_ignores_when_and_how_often_an_alert_was_delivered():
    alerts = backtest(FIXTURE).alerts
    sent = [{**a, "sent_at": "2026-11-25T12:00:00Z", "deliveries": 3} for a in alerts]
    assert fast.compare(alerts, sent) == fast.Parity(2, ())


# --- import ------------------------------------------------------------------------------------------


def bars_csv(path: Path, header: str = "Date,Open,High,Low,Close,Volume") -> Path:
    """The fixture's bars as a daily-bars download, with the bar before its first day."""
    ticks_ = fixture_ticks()
    first = ticks_[0]["previousClose"]
    rows = [header, f"2012-08-31,{first!r},{first!r},{first!r},{first!r},0"]
    rows += [f"{t['timestamp'][:10]},{t['open']!r},{t['dayHigh']!r},{t['dayLow']!r},{t['lastPrice']!r},"
             f"{t['lastVolume']}" for t in ticks_]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_import_writes_the_recording_beside_the_csv_and_says_what_it_holds(tmp_path):
    csv_file = bars_csv(tmp_path / "AAPL.csv")

    result = runner.invoke(app, ["import", str(csv_file), "--symbol", "aapl"])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "AAPL.jsonl").read_bytes() == FIXTURE.read_bytes()  # the recording the fixture is
    assert result.stderr.strip() == (f"80 AAPL ticks, 2012-09-04 .. 2012-12-28 (the 2012-08-31 bar gives the first "
                                     f"its previous close), written to {tmp_path / 'AAPL.jsonl'}")


def test_import_stops_at_a_bad_row_in_one_line_unless_told_to_skip_bad_rows(tmp_path):
    csv_file = bars_csv(tmp_path / "bars.csv")
    lines = csv_file.read_text().splitlines()
    lines[5] = lines[5].replace(",", ",x", 1)
    lines[9] = "2012-09-13,1.0,1.0,2.0,1.0,5"
    csv_file.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out" / "aapl.jsonl"

    stopped = runner.invoke(app, ["import", str(csv_file), "-s", "AAPL", "--out", str(out)])
    assert stopped.exit_code == 1
    assert stopped.output.strip().splitlines() == [
        f"error: {csv_file}, line 6: Open 'x{lines[5].split(',')[1][1:]}' is not a number (1 more bad lines; "
        "--skip-bad leaves them out)"]
    assert not out.exists()

    skipped = runner.invoke(app, ["import", str(csv_file), "-s", "AAPL", "--out", str(out), "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert skipped.stderr.splitlines()[:2] == ["skipped line 6: Open 'x" + lines[5].split(",")[1][1:]
                                               + "' is not a number", "skipped line 10: High 1.0 is below Low 2.0"]
    assert "78 AAPL ticks" in skipped.stderr and ", 2 bad rows skipped, written to" in skipped.stderr
    assert len(out.read_text().splitlines()) == 78


def test_import_takes_named_columns_a_time_zone_and_a_closing_time(tmp_path):
    csv_file = bars_csv(tmp_path / "bars.csv", header="Day,O,H,L,Last,Shares")
    options = ["--date-column", "Day", "--open-column", "O", "--high-column", "H", "--low-column", "L",
               "--close-column", "Last", "--volume-column", "Shares", "--tz", "Europe/London", "--close", "16:30"]

    result = runner.invoke(app, ["import", str(csv_file), "-s", "AAPL", *options])

    assert result.exit_code == 0, result.output
    first = json.loads((tmp_path / "bars.jsonl").read_text().splitlines()[0])
    assert first["timestamp"] == "2012-09-04T15:30:00Z"  # 16:30 in London, summer time

    unnamed = runner.invoke(app, ["import", str(csv_file), "-s", "AAPL"])
    assert unnamed.exit_code == 1 and "name it with --date-column" in unnamed.output
    assert runner.invoke(app, ["import", str(csv_file), "-s", "AAPL", *options[:-4], "--tz", "Mars/Base"]).output == (
        "error: unknown time zone 'Mars/Base'; use an IANA name such as America/New_York\n")


def test_import_refuses_to_write_over_its_own_csv(tmp_path):
    csv_file = bars_csv(tmp_path / "bars.jsonl")
    result = runner.invoke(app, ["import", str(csv_file), "-s", "AAPL"])
    assert result.exit_code == 1 and "would be overwritten by its own recording" in result.output


# --- dev ---------------------------------------------------------------------------------------------


def test_dev_refuses_on_aws_before_anything_runs(tmp_path, monkeypatch, no_aws):
    monkeypatch.setenv("TICKSTACK_HOME", str(tmp_path))
    monkeypatch.setenv("TARGET", "aws")
    built = []
    monkeypatch.setattr(strategy.dev_loop, "build", lambda *a: built.append(a))

    result = runner.invoke(app, ["dev"])

    assert result.exit_code == 1
    assert result.output.startswith("error: on aws new code goes through Terraform, with the plan shown first: "
                                    "`make deploy-aws`")
    assert built == []


def test_dev_puts_the_working_tree_into_the_functions_then_watches_until_ctrl_c(tmp_path, monkeypatch):
    stack = FakeStack(tmp_path / "home", [])
    monkeypatch.setattr(strategy, "target", lambda name: stack)
    applied = []
    monkeypatch.setattr(strategy.dev_loop, "apply_change", lambda target: applied.append(target) or 0.75)

    def watch(target, say):
        say("live 0.90 s after the save of stock_pipeline/ticks.py (build and update 0.80 s)")
        raise KeyboardInterrupt

    monkeypatch.setattr(strategy.dev_loop, "watch", watch)

    result = runner.invoke(app, ["dev"])

    assert result.exit_code == 0, result.output
    assert applied == [stack]
    assert result.stderr.splitlines() == [
        "p, t on ministack run the code in lambda/stock_pipeline (0.75 s); watching it for saves (Ctrl-C stops; "
        "configuration changes: make deploy)",
        "live 0.90 s after the save of stock_pipeline/ticks.py (build and update 0.80 s)",
        "stopped watching",
    ]


def test_the_alert_the_backtest_prints_is_the_one_the_trend_function_publishes():
    points = [PricePoint(t["timestamp"], Decimal(str(t["lastPrice"]))) for t in fixture_ticks()]
    golden = build_alert(advance("AAPL", TrendState(), points).crosses[0])
    assert json.loads(runner.invoke(app, ["backtest", str(FIXTURE), "--json"]).stdout)[0]["message"] == golden.message
