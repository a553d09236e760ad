"""Commands that draw what the pipeline holds: a symbol's chart, and the live dashboard."""

from __future__ import annotations

import errno
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from stock_pipeline.contract import DEFAULT_LONG_WINDOW, DEFAULT_SHORT_WINDOW
from stock_pipeline.trend import check_windows
from tickstack.cli.app import app
from tickstack.cli.options import TargetOption, running_target
from tickstack.cli.output import out, say
from tickstack.dashboard.server import DEFAULT_PORT, LOOPBACK, serve
from tickstack.dashboard.stack_source import StackSource, stack_series
from tickstack.errors import TickstackError
from tickstack.ops.chart import (ChartError, ChartSeries, chart_series, cross_summary, range_bound, recorded_ticks,
                                 render_chart)
from tickstack.settings import PROJECT_ROOT

CHARTS_DIR = PROJECT_ROOT / "build" / "charts"


class DashboardFailed(TickstackError):
    """The dashboard could not be served."""


def _recording_series(files: list[Path], symbol: str, short: int, long: int,
                      start: str | None, end: str | None) -> ChartSeries:
    recorded = recorded_ticks(files, symbol)
    if recorded.invalid:
        say(f"[yellow]skipped[/yellow] {recorded.invalid} invalid line{'s' if recorded.invalid != 1 else ''} "
            "(the pipeline would quarantine them)")
    if not recorded.ticks:
        others = f" ({recorded.other_symbols} ticks of other symbols)" if recorded.other_symbols else ""
        raise ChartError(f"no valid ticks of {symbol} in {', '.join(str(f) for f in files)}{others}")
    series = chart_series(recorded.ticks, short, long, symbol=symbol)
    try:
        return series.between(start, end) if start is not None or end is not None else series
    except ValueError as exc:
        raise ChartError(str(exc)) from None


@app.command()
def chart(
    symbol: Annotated[str, typer.Argument(help="Ticker to chart, e.g. AAPL")],
    start: Annotated[Optional[str], typer.Option("--from", help="First day (YYYY-MM-DD) or UTC time to show")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Last day (included) or UTC time to show")] = None,
    out_png: Annotated[Optional[Path], typer.Option("--out", dir_okay=False,
                                                    help="PNG to write; the HTML page goes beside it "
                                                         "(default: build/charts/SYMBOL.png)")] = None,
    files: Annotated[Optional[list[Path]], typer.Option("--file", exists=True, dir_okay=False,
                                                        help="Chart this JSON-lines recording instead of the "
                                                             "deployed stack (repeatable); no stack needed")] = None,
    short: Annotated[Optional[int], typer.Option("--short", min=1, help="Short SMA window (default: the "
                                                 f"stack's, else {DEFAULT_SHORT_WINDOW})")] = None,
    long: Annotated[Optional[int], typer.Option("--long", min=2, help="Long SMA window (default: the "
                                                f"stack's, else {DEFAULT_LONG_WINDOW})")] = None,
    target_name: TargetOption = None,
) -> None:
    """Chart a symbol's price, SMA-short and SMA-long with its Golden and Death Crosses (PNG + HTML).

    From the deployed stack's stored ticks, marking the crosses its alerts name; with --file, from a recording.
    """
    symbol = symbol.strip().upper()
    if not symbol:
        raise typer.BadParameter("name a symbol", param_hint="SYMBOL")
    start, end = range_bound(start, "--from"), range_bound(end, "--to")
    if out_png is not None and out_png.suffix.lower() != ".png":
        raise ChartError(f"--out {out_png}: name a .png file (the HTML page is written beside it)")
    if files:
        windows = (short or DEFAULT_SHORT_WINDOW, long or DEFAULT_LONG_WINDOW)
        try:
            check_windows(*windows)
        except ValueError as exc:
            raise ChartError(str(exc)) from None
        series = _recording_series(files, symbol, *windows, start, end)
    else:
        drawn = stack_series(running_target(target_name), symbol, short, long, start, end)
        for note in drawn.notes:
            say(f"[yellow]note[/yellow] {note}")
        series = drawn.series
    png = out_png or CHARTS_DIR / f"{symbol}.png"
    page = png.with_suffix(".html")
    png.parent.mkdir(parents=True, exist_ok=True)
    render_chart(series, png, page)
    out.print(f"chart: {png}", highlight=False, markup=False, soft_wrap=True)
    out.print(f"page: {page}", highlight=False, markup=False, soft_wrap=True)
    source = "computed" if series.crosses_source == "computed" else "from the stack's alerts"
    out.print(f"{len(series.crosses)} cross{'es' if len(series.crosses) != 1 else ''} marked ({source}, "
              f"{series.short_label}/{series.long_label}, {len(series.points)} points)", highlight=False, markup=False)
    for cross in series.crosses:
        out.print(cross_summary(series, cross), highlight=False, markup=False)


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one)")] = DEFAULT_PORT,
    target_name: TargetOption = None,
) -> None:
    """Serve a live page of the running stack (counters, alerts, rejections, functions, charts) until Ctrl-C."""
    source = StackSource(running_target(target_name))
    # A `kill` (SIGTERM) stops it as Ctrl-C does: requests in flight finish, the port is released.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve(source, LOOPBACK, port,
              on_ready=lambda url: out.print(f"dashboard: {url}  (Ctrl-C stops it)", highlight=False, markup=False))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DashboardFailed(f"port {port} on {LOOPBACK} is in use: pick another with --port") from None
        raise DashboardFailed(f"cannot serve on {LOOPBACK}:{port}: {exc}") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    say("dashboard stopped")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
