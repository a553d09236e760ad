"""Price, SMA-short and SMA-long of one symbol with its Golden and Death Crosses, as a picture.

Two halves. The data is pure: `chart_series` folds the ticks through the Lambda package's
own `stock_pipeline.trend.advance`, so the averages and crosses drawn are exactly the ones
the trend function computes (same windows, same 4-place rounding, same exact sign test).
`ChartSeries.marking_alerts` swaps the recomputed crosses for the alerts a deployed stack
actually sent, so the chart of a running stack marks what the alerts say, not what we
think they should have said.

Rendering uses matplotlib (Agg, no display, no pyplot global state) rather than Plotly:
- output quality: `annotate` places each cross's label (kind, date, price) with an arrow and
  a boxed background, and every line is labelled at its right end, so the chart reads
  without a legend;
- one figure gives both outputs: the PNG and an SVG that is inlined into the HTML page, so
  the picture in the file and in the page are the same drawing, and the SVG keeps its text
  as text (`svg.fonttype = none`) for a browser - or a test - to read back;
- size: the self-contained page is the SVG plus a table, about 26 kB for 80 daily ticks; a
  self-contained Plotly page inlines plotly.js, about 3.5 MB, before any data.
"""

from __future__ import annotations

import html
import io
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from stock_pipeline.ticks import InvalidTick, Tick, parse_tick
from stock_pipeline.trend import DEATH_CROSS, GOLDEN_CROSS, PricePoint, TrendState, advance
from tickstack.errors import TickstackError

CrossesSource = Literal["computed", "alerts"]

SIGNAL_NAMES = {GOLDEN_CROSS: "Golden Cross", DEATH_CROSS: "Death Cross"}

# Colours chosen to stay apart for the common colour-vision deficiencies; green/red only
# for the crosses, where the marker shape (up/down triangle) says the same thing.
PRICE_COLOUR = "#1f2937"
SHORT_COLOUR = "#e07b00"
LONG_COLOUR = "#5b3fbf"
SIGNAL_COLOURS = {GOLDEN_CROSS: "#15803d", DEATH_CROSS: "#c81e1e"}

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")

# rcParams are process-global and matplotlib makes no thread-safety promise, while the
# dashboard renders from request threads: one figure at a time.
_RENDER_LOCK = threading.Lock()


class ChartError(TickstackError):
    """Nothing to chart (no ticks of the symbol), or a range or windows that cannot be charted."""


@dataclass(frozen=True)
class ChartPoint:
    timestamp: str
    price: Decimal
    # None during warm-up (fewer prices than the window).
    sma_short: Decimal | None
    sma_long: Decimal | None


@dataclass(frozen=True)
class ChartCross:
    signal: str
    timestamp: str
    price: Decimal
    # The averages at the crossing point, when the series holds that point.
    sma_short: Decimal | None = None
    sma_long: Decimal | None = None

    @property
    def name(self) -> str:
        return SIGNAL_NAMES[self.signal]


@dataclass(frozen=True)
class ChartSeries:
    symbol: str
    short_window: int
    long_window: int
    points: tuple[ChartPoint, ...]
    crosses: tuple[ChartCross, ...]
    crosses_source: CrossesSource = "computed"
    # The date range shown, as normalised bounds (None: open); the averages at the first
    # point shown still use the prices before it.
    start: str | None = None
    end: str | None = None

    @property
    def short_label(self) -> str:
        return f"SMA-{self.short_window}"

    @property
    def long_label(self) -> str:
        return f"SMA-{self.long_window}"

    def between(self, start: str | date | None = None, end: str | date | None = None) -> ChartSeries:
        """The same series cut to [start, end]; a bare date as `end` includes that whole day."""
        lower, upper = _bound(start), _bound(end)
        if lower is not None and upper is not None and lower[:10] > upper[:10]:
            raise ValueError(f"date range is empty: from {lower} to {upper}")
        return replace(
            self,
            points=tuple(p for p in self.points if _within(p.timestamp, lower, upper)),
            crosses=tuple(c for c in self.crosses if _within(c.timestamp, lower, upper)),
            start=lower,
            end=upper,
        )

    def marking_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> ChartSeries:
        """The same series marking the given alerts (dicts with symbol, signal, timestamp, price).

        Alerts for other symbols and outside the series' date range are left out; the
        averages at an alerted point are taken from the series when it holds that point.
        """
        by_timestamp = {p.timestamp: p for p in self.points}
        crosses = []
        for alert in alerts:
            if str(alert["symbol"]).upper() != self.symbol:
                continue
            signal = str(alert["signal"])
            if signal not in SIGNAL_NAMES:
                raise ValueError(f"alert has unknown signal {signal!r}")
            timestamp = _bound(str(alert["timestamp"]))
            assert timestamp is not None
            if not _within(timestamp, self.start, self.end):
                continue
            point = by_timestamp.get(timestamp)
            crosses.append(
                ChartCross(
                    signal=signal,
                    timestamp=timestamp,
                    price=_decimal(alert["price"]),
                    sma_short=point.sma_short if point else None,
                    sma_long=point.sma_long if point else None,
                )
            )
        unique = {(c.timestamp, c.signal): c for c in crosses}  # an alert delivered twice is one cross
        return replace(self, crosses=tuple(sorted(unique.values(), key=lambda c: c.timestamp)), crosses_source="alerts")


def chart_series(
    ticks: Iterable[Any],
    short_window: int,
    long_window: int,
    *,
    symbol: str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
) -> ChartSeries:
    """Per-point price, SMA-short and SMA-long, and the crosses, as the trend function computes them.

    `ticks` are objects with `timestamp` and `price` (a `stock_pipeline.ticks.Tick`, a
    `PricePoint`), in any order; `symbol` is taken from them when they carry one. The whole
    history is analysed and only then cut to [start, end], so the first averages shown are
    real ones rather than a new warm-up.
    """
    ticks = list(ticks)
    symbols = {str(t.symbol).upper() for t in ticks if getattr(t, "symbol", None)}
    if symbol is not None:
        symbol = symbol.upper()
        ticks = [t for t in ticks if not getattr(t, "symbol", None) or str(t.symbol).upper() == symbol]
    elif len(symbols) == 1:
        symbol = symbols.pop()
    elif symbols:
        raise ValueError(f"ticks of several symbols ({', '.join(sorted(symbols))}): say which one to chart")
    else:
        raise ValueError("no symbol: pass symbol= for ticks that do not carry one")

    points = [PricePoint(timestamp=t.timestamp, price=t.price) for t in ticks]
    result = advance(symbol, TrendState(), points, short_window, long_window)
    chart_points = tuple(
        ChartPoint(timestamp=e.timestamp, price=e.price, sma_short=e.sma_short, sma_long=e.sma_long)
        for e in result.evaluations
    )
    by_timestamp = {p.timestamp: p for p in chart_points}
    crosses = tuple(
        ChartCross(
            signal=c.signal,
            timestamp=c.timestamp,
            price=c.price,
            sma_short=by_timestamp[c.timestamp].sma_short,
            sma_long=by_timestamp[c.timestamp].sma_long,
        )
        for c in result.crosses
    )
    series = ChartSeries(symbol, short_window, long_window, chart_points, crosses, "computed")
    return series.between(start, end) if start is not None or end is not None else series


@dataclass(frozen=True)
class RecordedTicks:
    """The valid ticks of one symbol read from recordings, and how many lines were passed over."""

    ticks: tuple[Tick, ...]
    invalid: int  # lines the pipeline would quarantine (same validation code)
    other_symbols: int  # valid ticks of other symbols


def recorded_ticks(paths: Iterable[str | Path], symbol: str) -> RecordedTicks:
    """Read JSON-lines recordings as the pipeline would: `parse_tick` on each line, invalid ones skipped."""
    symbol = symbol.upper()
    ticks: list[Tick] = []
    invalid = others = 0
    for path in paths:
        with open(path, "rb") as fh:
            for raw in fh:
                line = raw.strip()
                if not line:
                    continue
                try:
                    tick = parse_tick(line)
                except InvalidTick:
                    invalid += 1
                    continue
                if tick.symbol == symbol:
                    ticks.append(tick)
                else:
                    others += 1
    return RecordedTicks(tuple(ticks), invalid, others)


def range_bound(value: str | date | None, option: str = "bound") -> str | None:
    """A --from/--to value normalised as `between` takes it; ChartError in one line when it is neither a date nor a UTC time."""
    try:
        return _bound(value)
    except ValueError as exc:
        raise ChartError(f"{option} {value}: not a date (YYYY-MM-DD) or a UTC time (2012-11-26T21:00:00Z): {exc}") from None


def default_title(series: ChartSeries) -> str:
    title = f"{series.symbol}: price, {series.short_label} and {series.long_label}"
    if series.points:
        title += f", {series.points[0].timestamp[:10]} to {series.points[-1].timestamp[:10]}"
    return title


def cross_label(series: ChartSeries, cross: ChartCross) -> str:
    """What the chart writes beside a cross: its kind, when, and the price."""
    return f"{cross.name}\n{_when(series, cross.timestamp)}\n{price_text(cross.price)}"


def cross_summary(series: ChartSeries, cross: ChartCross) -> str:
    """One line for a terminal: signal, when, price (e.g. "GOLDEN_CROSS 2012-11-26 589.53")."""
    return f"{cross.signal} {_when(series, cross.timestamp)} {price_text(cross.price)}"


def price_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    if "." in text and len(text.split(".")[1]) == 1:
        text += "0"  # 533.2 -> 533.20: prices read as money
    return text


def render_chart(series: ChartSeries, out_png: str | Path, out_html: str | Path, title: str | None = None) -> None:
    """Write the chart as a PNG and as a self-contained HTML page (inline SVG and a table of crosses)."""
    title = title or default_title(series)
    out_png, out_html = Path(out_png), Path(out_html)
    with _RENDER_LOCK:
        figure = _figure(series, title)
        figure.savefig(out_png, format="png", dpi=100, metadata={"Software": None})
        svg = _svg(figure, series)
    out_html.write_text(_page(series, title, svg), encoding="utf-8")


def render_svg(series: ChartSeries, title: str | None = None) -> str:
    """The chart as an `<svg>` element to inline in a page (scales to its container's width)."""
    with _RENDER_LOCK:
        return _svg(_figure(series, title or default_title(series)), series)


# -- drawing -------------------------------------------------------------------------------


def _figure(series: ChartSeries, title: str):
    # Imported here: the rest of tickstack never pays for matplotlib. A bare Figure on the
    # Agg canvas: no pyplot, no GUI backend, no display, nothing global switched.
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.transforms import offset_copy

    figure = Figure(figsize=(12, 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    figure.suptitle(title, fontsize=15, fontweight="bold", x=0.01, ha="left")
    source = "as computed by the trend function" if series.crosses_source == "computed" else "as alerted by the stack"
    ax.set_title(
        # Em spaces: an SVG viewer collapses ordinary runs of spaces.
        f"\u25b2 Golden Cross: {series.short_label} rises above {series.long_label}\u2003\u2003"
        f"\u25bc Death Cross: it falls below\u2003\u2003(crosses {source})",
        fontsize=10,
        loc="left",
        color="#4b5563",
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_ylabel("price")

    if not series.points:
        ax.text(0.5, 0.5, "no prices in this range yet", transform=ax.transAxes, ha="center", va="center", fontsize=14)
        ax.set_xticks([])
        ax.set_yticks([])
        return figure

    xs = [_datetime(p.timestamp) for p in series.points]
    nan = float("nan")
    lines = [
        ("Price", [float(p.price) for p in series.points], PRICE_COLOUR, 2.0),
        (series.short_label, [nan if p.sma_short is None else float(p.sma_short) for p in series.points], SHORT_COLOUR, 1.6),
        (series.long_label, [nan if p.sma_long is None else float(p.sma_long) for p in series.points], LONG_COLOUR, 1.6),
    ]
    for label, ys, colour, width in lines:
        ax.plot(xs, ys, color=colour, linewidth=width, label=label, solid_capstyle="round")

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    # Month starts carry the year; the corner offset only when ticks are hours or finer.
    formatter = mdates.ConciseDateFormatter(
        locator,
        zero_formats=["", "%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M"],
        offset_formats=["", "", "", "%d %b %Y (UTC)", "%d %b %Y (UTC)", "%d %b %Y %H:%M (UTC)"],
    )
    ax.xaxis.set_major_formatter(formatter)

    values = [y for _, ys, _, _ in lines for y in ys if y == y] + [float(c.price) for c in series.crosses]
    low, high = min(values), max(values)
    span = (high - low) or max(abs(high), 1.0) * 0.05
    # Head- and foot-room for the cross labels, which sit above (golden) or below (death).
    ax.set_ylim(low - 0.22 * span, high + 0.22 * span)
    # The range covers the alerted crosses too, should an alert name a tick not stored yet.
    first = min([xs[0], *(_datetime(c.timestamp) for c in series.crosses)])
    last = max([xs[-1], *(_datetime(c.timestamp) for c in series.crosses)])
    if last > first:
        ax.set_xlim(first, last)

    # Each line labelled at its right end with its name and last value, nudged apart
    # when the values are close.
    ends = [(ys[-1], label, colour) for label, ys, colour, _ in lines if ys[-1] == ys[-1]]
    ends.sort()
    gap = 0.06 * (ax.get_ylim()[1] - ax.get_ylim()[0])
    placed: list[float] = []
    for y, _, _ in ends:
        placed.append(max(y, placed[-1] + gap) if placed else y)
    beside = offset_copy(ax.transData, fig=figure, x=10, y=0, units="points")
    for (y, label, colour), y_text in zip(ends, placed):
        ax.annotate(
            f"{label} {y:.2f}",
            xy=(xs[-1], y),
            xytext=(xs[-1], y_text),
            textcoords=beside,
            color=colour,
            fontsize=11,
            fontweight="bold",
            va="center",
            ha="left",
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.8, "shrinkA": 0, "shrinkB": 2},
        )

    # Crosses: a triangle on the price line and a boxed label with an arrow; labels close
    # in time on the same side are stacked rather than drawn over each other.
    x_span = (last - first).total_seconds() or 1.0
    last_on_side: dict[int, tuple[float, int]] = {}
    for cross in series.crosses:
        golden = cross.signal == GOLDEN_CROSS
        colour = SIGNAL_COLOURS[cross.signal]
        x = _datetime(cross.timestamp)
        ax.plot(
            [x],
            [float(cross.price)],
            marker="^" if golden else "v",
            markersize=14,
            color=colour,
            markeredgecolor="white",
            markeredgewidth=1.2,
            zorder=5,
            gid=f"marker-{cross.signal.lower()}-{cross.timestamp}",
        )
        side = 1 if golden else -1
        fraction = (x - first).total_seconds() / x_span
        level = 0
        if side in last_on_side and fraction - last_on_side[side][0] < 0.12:
            level = last_on_side[side][1] + 1
        last_on_side[side] = (fraction, level)
        ax.annotate(
            cross_label(series, cross),
            xy=(x, float(cross.price)),
            xytext=(0, side * (58 + 52 * level)),
            textcoords="offset points",
            ha="center",
            va="bottom" if golden else "top",
            fontsize=10.5,
            fontweight="bold",
            color=colour,
            bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": colour, "linewidth": 1.2},
            arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.2, "shrinkA": 0, "shrinkB": 9},
            annotation_clip=False,
            zorder=6,
            gid=f"cross-{series.symbol.lower()}-{cross.signal.lower()}-{cross.timestamp}",
        )
    return figure


def _svg(figure, series: ChartSeries) -> str:
    import matplotlib

    buffer = io.StringIO()
    # Text stays text (readable and searchable in the page); a per-symbol salt keeps the
    # clip-path ids of several charts inlined in one page apart.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"tickstack-{series.symbol}"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # Drop the fixed size so the drawing scales to its container; the viewBox keeps the ratio.
    opening_end = svg.index(">")
    opening = re.sub(r'\s(width|height)="[^"]*"', "", svg[:opening_end])
    return opening + ' class="tickstack-chart" role="img"' + svg[opening_end:]


def _page(series: ChartSeries, title: str, svg: str) -> str:
    esc = html.escape
    source = "computed by the trend function" if series.crosses_source == "computed" else "as alerted by the stack"
    rows = []
    for cross in series.crosses:
        rows.append(
            f'<tr class="cross" data-signal="{esc(cross.signal)}" data-timestamp="{esc(cross.timestamp)}" '
            f'data-price="{esc(str(cross.price))}">'
            f'<td class="signal {"golden" if cross.signal == GOLDEN_CROSS else "death"}">'
            f'{"&#9650;" if cross.signal == GOLDEN_CROSS else "&#9660;"} {esc(cross.name)}</td>'
            f"<td>{esc(_when(series, cross.timestamp))}</td><td>{esc(price_text(cross.price))}</td>"
            f"<td>{esc(_optional(cross.sma_short))}</td><td>{esc(_optional(cross.sma_long))}</td></tr>"
        )
    if not rows:
        rows.append('<tr class="none"><td colspan="5">No crosses in this range.</td></tr>')
    body = "\n".join(rows)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto; max-width: 1200px; color: #111827; padding: 0 1rem; }}
figure {{ margin: 0; }}
svg.tickstack-chart {{ width: 100%; height: auto; display: block; }}
table {{ border-collapse: collapse; margin-top: 1rem; font-size: 0.95rem; }}
caption {{ text-align: left; font-weight: 600; padding-bottom: 0.4rem; }}
th, td {{ padding: 0.3rem 0.9rem; border-bottom: 1px solid #e5e7eb; text-align: left; }}
td:nth-child(n+3) {{ text-align: right; font-variant-numeric: tabular-nums; }}
.golden {{ color: {SIGNAL_COLOURS[GOLDEN_CROSS]}; font-weight: 600; }}
.death {{ color: {SIGNAL_COLOURS[DEATH_CROSS]}; font-weight: 600; }}
</style>
</head>
<body>
<main id="chart-page" data-symbol="{esc(series.symbol)}" data-short-window="{series.short_window}" data-long-window="{series.long_window}" data-crosses-source="{series.crosses_source}">
<figure id="chart">
{svg}
</figure>
<table id="crosses">
<caption>Crosses ({esc(source)})</caption>
<thead><tr><th>Signal</th><th>When</th><th>Price</th><th>{esc(series.short_label)}</th><th>{esc(series.long_label)}</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</main>
</body>
</html>
"""


# -- helpers -------------------------------------------------------------------------------


def _when(series: ChartSeries, timestamp: str) -> str:
    """The date alone for daily data; the UTC time too when one day holds several points."""
    days = [p.timestamp[:10] for p in series.points]
    if len(days) == len(set(days)):
        return timestamp[:10]
    return f"{timestamp[:10]} {timestamp[11:16]} UTC"


def _optional(value: Decimal | None) -> str:
    return "" if value is None else str(value)  # the averages as the trend function rounds them


def _datetime(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, _TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)


def _bound(value: str | date | None) -> str | None:
    """A range bound as a bare date (YYYY-MM-DD) or a full UTC timestamp in the ticks' format."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"{value!r} has no UTC offset")
        return value.astimezone(timezone.utc).strftime(_TIMESTAMP_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if _DATE_ONLY.fullmatch(value):
        date.fromisoformat(value)  # raises on 2012-13-45
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return parsed.astimezone(timezone.utc).strftime(_TIMESTAMP_FORMAT)


def _within(timestamp: str, lower: str | None, upper: str | None) -> bool:
    if lower is not None and timestamp < lower:
        return False
    if upper is not None:
        if len(upper) == 10:
            return timestamp[:10] <= upper
        return timestamp <= upper
    return True


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"price {value!r} is not a number") from None


__all__: Sequence[str] = (
    "ChartCross",
    "ChartError",
    "ChartPoint",
    "ChartSeries",
    "RecordedTicks",
    "chart_series",
    "cross_label",
    "cross_summary",
    "default_title",
    "price_text",
    "range_bound",
    "recorded_ticks",
    "render_chart",
    "render_svg",
)
