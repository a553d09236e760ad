"""Commands for working on the strategy and the functions' code without a deploy.

- `backtest`: the alerts the pipeline would send for recordings, computed here by the functions' own code.
- `verify`: that backtest against what the running stack sent for the same symbols, field for field.
- `import`: a CSV of daily bars as a recording the other commands (and `replay`) take.
- `dev`: each saved change to lambda/ put into the running emulator's functions in seconds.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from datetime import time as time_of_day
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from stock_pipeline.contract import DEFAULT_LONG_WINDOW, DEFAULT_SHORT_WINDOW
from stock_pipeline.trend import check_windows
from tickstack.cli.app import app
from tickstack.cli.options import TargetOption, target
from tickstack.cli.output import console, out, print_alerts
from tickstack.deploy.package import PACKAGE_DIR
from tickstack.errors import TickstackError
from tickstack.ops import dev_loop
from tickstack.ops.backtest import BacktestResult
from tickstack.ops.csv_import import DEFAULT_EXCHANGE_TZ, import_csv, write_recording
from tickstack.ops.verify import Parity, Windows, deployment_windows, run_backtest, verify as verify_recordings
from tickstack.settings import PROJECT_ROOT

# At most this many distinct rejection reasons are listed; the count covers them all.
SHOWN_REASONS = 10

FilesArgument = Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="JSON-lines recordings")]
ShortOption = Annotated[Optional[int], typer.Option(
    "--short", min=1, help=f"Ticks in the short moving average (default {DEFAULT_SHORT_WINDOW}; verify: the stack's)")]
LongOption = Annotated[Optional[int], typer.Option(
    "--long", min=2, help=f"Ticks in the long moving average (default {DEFAULT_LONG_WINDOW}; verify: the stack's)")]


class BadWindows(TickstackError):
    """Moving-average windows that cannot be used."""


class ImportFailed(TickstackError):
    """A CSV that cannot become a recording."""


class ParityBroken(TickstackError):
    """The stack sent other alerts than the backtest finds."""


# --- backtest ---------------------------------------------------------------------------------------


@app.command()
def backtest(
    files: FilesArgument,
    short: ShortOption = None,
    long: LongOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, as `tickstack alerts --json`")] = False,
) -> None:
    """The alerts the pipeline would send for recordings: the functions' own code run here, no stack needed."""
    windows = _windows(short, long, Windows(DEFAULT_SHORT_WINDOW, DEFAULT_LONG_WINDOW, "default"))
    result, seconds = _timed_backtest(files, windows)
    if as_json:
        out.print_json(json.dumps(result.alerts))
    elif result.alerts:
        out.print(f"alerts the pipeline would send: {len(result.alerts)} ({windows})")
        print_alerts(result.alerts)
    else:
        out.print(f"no alerts: the averages never cross ({windows})")
    _summarise(result, files, seconds)


def _windows(short: int | None, long: int | None, default: Windows) -> Windows:
    windows = Windows(default.short if short is None else short, default.long if long is None else long,
                      "given" if short is not None or long is not None else default.source)
    try:
        check_windows(windows.short, windows.long)
    except ValueError as exc:
        raise BadWindows(f"--short {windows.short} --long {windows.long}: {exc}") from None
    return windows


def _timed_backtest(files: Sequence[Path], windows: Windows) -> tuple[BacktestResult, float]:
    started = time.perf_counter()
    result = run_backtest(files, windows.short, windows.long)
    return result, time.perf_counter() - started


def _line(text: str) -> None:
    """One line on stderr however narrow the terminal: file names and reasons stay whole for scripts to read."""
    console.print(text, highlight=False, soft_wrap=True)


def _summarise(result: BacktestResult, files: Sequence[Path], seconds: float) -> None:
    """On stderr: why lines were rejected, then one line of counts and speed."""
    first_line = {}
    for line in result.rejected:
        first_line.setdefault(line.reason, line)
    reasons = result.rejected_reasons.most_common()
    for reason, count in reasons[:SHOWN_REASONS]:
        where = first_line[reason]
        first = f"{escape(where.source)}:{where.line_number}"
        _line(f"[yellow]rejected[/yellow] {count}× {escape(reason)} (first {first})")
    if len(reasons) > SHOWN_REASONS:
        _line(f"[yellow]rejected[/yellow] ... and {len(reasons) - SHOWN_REASONS} other reasons")
    symbols = ", ".join(result.symbols) if len(result.symbols) <= 8 else f"{', '.join(list(result.symbols)[:8])}, ..."
    rejected = f"{len(result.rejected)} rejected"
    if len(reasons) > 1:
        rejected += f" ({len(reasons)} reasons)"
    overwritten = f", {result.overwritten} overwrote an earlier tick" if result.overwritten else ""
    rate = result.lines / seconds if seconds > 0 else 0.0
    _line(f"{result.lines} ticks from {len(files)} file{'s' if len(files) != 1 else ''}: "
                  f"{result.stored} stored for {len(result.symbols)} symbol{'s' if len(result.symbols) != 1 else ''}"
                  f"{f' ({escape(symbols)})' if symbols else ''}{overwritten}, {rejected}; "
                  f"{len(result.alerts)} alerts; {seconds:.2f} s, {rate:,.0f} ticks/s")


# --- verify -----------------------------------------------------------------------------------------


@app.command()
def verify(
    files: FilesArgument,
    short: ShortOption = None,
    long: LongOption = None,
    target_name: TargetOption = None,
) -> None:
    """Check that the running stack sent, for the recordings' symbols, exactly the alerts the backtest finds.

    Replay the recordings first (`tickstack replay FILE --wait`). The backtest uses the windows the
    stack was deployed with; sent_at and deliveries are not compared. Exit 1 when anything differs.
    """
    chosen = target(target_name)
    chosen.require_running()
    deployed = deployment_windows(chosen)
    windows = _windows(short, long, deployed)
    if (windows.short, windows.long) != (deployed.short, deployed.long):
        raise BadWindows(f"the stack analyses with {deployed}, not {windows}: verify compares like with like; "
                         f"`tickstack backtest --short {windows.short} --long {windows.long}` shows other windows")
    started = time.perf_counter()
    checked = verify_recordings(chosen, files, deployed)
    _summarise(checked.backtest, files, time.perf_counter() - started)
    parity = checked.parity
    if parity.ok:
        out.print(f"parity: {parity.identical} alerts identical ({deployed}, {chosen.name})", highlight=False)
        return
    _print_differences(parity)
    counts = {kind: sum(1 for d in parity.differences if d.kind == kind)
              for kind in ("missing", "unexpected", "differs")}
    hint = ""
    if not checked.sent and checked.backtest.alerts:
        hint = f"; the stack sent nothing for these symbols: replay them first (tickstack replay {files[0]} --wait)"
    raise ParityBroken(
        f"parity broken: {len(parity.differences)} alerts differ ({counts['missing']} missing, "
        f"{counts['unexpected']} unexpected, {counts['differs']} with other values), "
        f"{parity.identical} identical{hint}")


def _print_differences(parity: Parity) -> None:
    for difference in parity.differences:
        a = difference.alert
        what = f"{a['symbol']} {a['signal']} tick {a['timestamp']}"
        if difference.kind == "missing":
            out.print(f"[red]missing[/red]     {what}: the backtest finds it, the stack did not send it",
                      highlight=False, soft_wrap=True)
        elif difference.kind == "unexpected":
            out.print(f"[red]unexpected[/red]  {what}: the stack sent it, the backtest does not find it",
                      highlight=False, soft_wrap=True)
        else:
            out.print(f"[red]differs[/red]     {what}:", highlight=False, soft_wrap=True)
            for name, expected, actual in difference.fields:
                out.print(f"  {name}: backtest {escape(json.dumps(expected))}, stack {escape(json.dumps(actual))}",
                          highlight=False, soft_wrap=True)


# --- import -----------------------------------------------------------------------------------------


def _close_time(value: str) -> time_of_day:
    try:
        return time_of_day.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time of day such as 16:00", param_hint="--close") from None


def _column(role: str) -> object:
    return typer.Option(f"--{role}-column", help=f"The {role} column's header, when it is not recognised")


@app.command("import")
def import_(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, metavar="CSV",
                                             help="Daily bars: a Yahoo Finance or Stooq download, or any CSV "
                                                  "with date, open, high, low, close and volume columns")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="The ticker the bars are of")],
    out_file: Annotated[Optional[Path], typer.Option(
        "--out", dir_okay=False, help="Where to write the recording (default: beside the CSV, as .jsonl)")] = None,
    date_column: Annotated[Optional[str], _column("date")] = None,
    open_column: Annotated[Optional[str], _column("open")] = None,
    high_column: Annotated[Optional[str], _column("high")] = None,
    low_column: Annotated[Optional[str], _column("low")] = None,
    close_column: Annotated[Optional[str], _column("close")] = None,
    volume_column: Annotated[Optional[str], _column("volume")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Leave bad rows out (listed) rather than stop")] = False,
    tz: Annotated[str, typer.Option("--tz", help="The exchange's time zone (IANA name)")] = DEFAULT_EXCHANGE_TZ,
    close: Annotated[str, typer.Option("--close", help="The exchange's closing time, local; each tick is stamped "
                                                       "with its day's close in UTC")] = "16:00",
) -> None:
    """Turn a CSV of daily bars into a recording: a tick per bar at the day's close, checked as the pipeline would."""
    close_time = _close_time(close)
    destination = out_file or csv_file.with_suffix(".jsonl")
    if destination.resolve() == csv_file.resolve():
        raise ImportFailed(f"{csv_file} would be overwritten by its own recording: name another with --out")
    try:
        result = import_csv(csv_file, symbol, date_column=date_column, open_column=open_column,
                            high_column=high_column, low_column=low_column, close_column=close_column,
                            volume_column=volume_column, exchange_tz=tz, close_time=close_time, skip_bad=skip_bad)
    except ValueError as exc:  # CsvImportError, an unknown time zone
        raise ImportFailed(_cli_words(str(exc))) from None
    for bad in result.bad_rows:
        _line(f"[yellow]skipped[/yellow] line {bad.line}: {escape(bad.problem)}")
    for duplicate in result.duplicates:
        lines = ", ".join(str(line) for line in duplicate.lines)
        _line(f"[yellow]repeated[/yellow] {duplicate.day} on lines {lines}: the last one kept")
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_recording(result.ticks, destination)
    first, last = result.ticks[0]["timestamp"], result.ticks[-1]["timestamp"]
    skipped = f", {len(result.bad_rows)} bad rows skipped" if result.bad_rows else ""
    _line(f"{len(result.ticks)} {result.symbol} ticks, {first[:10]} .. {last[:10]} (the {result.reference_day} "
          f"bar gives the first its previous close){skipped}, written to {escape(str(destination))}")


def _cli_words(message: str) -> str:
    """The importer's advice in the command's own options."""
    message = message.replace("skip_bad=True", "--skip-bad")
    return re.sub(r"\b(date|open|high|low|close|volume)_column=", r"--\1-column", message)


# --- dev --------------------------------------------------------------------------------------------


@app.command()
def dev(target_name: TargetOption = None) -> None:
    """Watch lambda/ and put every saved change into the running emulator's two functions, no Terraform.

    Prints how long each change took from the save to live. Configuration changes still go
    through Terraform (`make deploy`); on aws, `make deploy-aws`.
    """
    chosen = target(target_name)
    chosen.update_function_code((), b"")  # a target whose code goes only through Terraform refuses here
    chosen.require_running()
    names = dev_loop.function_names(chosen)
    seconds = dev_loop.apply_change(chosen)
    _line(f"{', '.join(names)} on {chosen.name} run the code in {_shown(PACKAGE_DIR)} ({seconds:.2f} s); "
          "watching it for saves (Ctrl-C stops; configuration changes: make deploy)")
    try:
        dev_loop.watch(chosen, lambda line: _line(escape(line)))
    except KeyboardInterrupt:
        _line("stopped watching")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
