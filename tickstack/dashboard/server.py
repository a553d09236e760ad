"""The dashboard's HTTP server: stdlib `ThreadingHTTPServer` on 127.0.0.1.

Routes: `/` the page; `/api/state` the snapshot as the page shows it (JSON); `/api/chart?symbol=S`
the symbol's chart as inline SVG, redrawn only when that symbol's status or alerts changed
since the last drawing. `DashboardServer` runs in a background thread (start/stop, or a
`with` block); `serve()` blocks until Ctrl-C and leaves nothing running.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tickstack.dashboard.page import PAGE
from tickstack.dashboard.source import DashboardSource, Snapshot
from tickstack.ops.chart import SIGNAL_NAMES, chart_series, default_title, price_text, render_svg

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8050
MAX_ALERTS = 50
MAX_REJECTED = 10
# A chart shows the latest points only: minute ticks of a long session would be a smear.
CHART_POINTS = 400


@dataclass(frozen=True)
class _Drawn:
    version: str
    svg: str


class Dashboard:
    """The HTTP-free part: shapes a snapshot for the page and keeps one drawn chart per symbol."""

    def __init__(self, source: DashboardSource, *, chart_points: int = CHART_POINTS) -> None:
        self.source = source
        self.chart_points = chart_points
        self._lock = threading.Lock()
        self._versions: dict[str, str] = {}  # symbol -> version named by the latest state
        self._drawn: dict[str, _Drawn] = {}
        self._drawing: dict[str, threading.Lock] = {}

    def state(self) -> dict[str, Any]:
        snapshot: Snapshot = self.source.snapshot()
        alerts = sorted(
            (dict(a) for a in snapshot.get("alerts", ())),
            key=lambda a: (a.get("sent_at") or a["timestamp"], a["timestamp"]),
            reverse=True,
        )
        ticks_in = snapshot.get("ticks_in")
        charts = []
        for status in snapshot.get("symbols", ()):
            symbol = status["symbol"]
            mine = [a for a in alerts if a["symbol"] == symbol]
            # The chart changes when the symbol's ticks or its alerts do; nothing else redraws it.
            fingerprint = json.dumps([status, [(a["timestamp"], a["signal"], a["price"]) for a in mine]], default=str)
            version = hashlib.sha1(fingerprint.encode()).hexdigest()[:12]
            charts.append({**status, "version": version})
        with self._lock:
            self._versions = {c["symbol"]: c["version"] for c in charts}
        return {
            "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "source": snapshot.get("source", ""),
            "counters": {
                "ticks_in": snapshot["stored"] if ticks_in is None else ticks_in,
                "ticks_in_basis": "stored" if ticks_in is None else "stream",
                "stored": snapshot["stored"],
                "rejected": snapshot["rejected"],
                "alerts": len(alerts),
                "iterator_age_ms": snapshot.get("iterator_age_ms"),
            },
            "rejected_latest": sorted(
                snapshot.get("rejected_latest", ()), key=lambda r: r.get("at") or "", reverse=True
            )[:MAX_REJECTED],
            "alerts": [{**a, "subject": a.get("subject") or _fallback_subject(a)} for a in alerts[:MAX_ALERTS]],
            "functions": list(snapshot.get("functions", ())),
            "notes": dict(snapshot.get("notes") or {}),
            "charts": charts,
        }

    def chart(self, symbol: str) -> _Drawn | None:
        """The symbol's chart as of the latest state; None for a symbol the state did not name."""
        with self._lock:
            version = self._versions.get(symbol)
            drawing = self._drawing.setdefault(symbol, threading.Lock())
        if version is None:
            return None
        with drawing:  # one drawing per symbol at a time, however many pages poll
            drawn = self._drawn.get(symbol)
            if drawn is not None and drawn.version == version:
                return drawn
            data = self.source.symbol_series(symbol)
            series = chart_series(data.ticks, data.short_window, data.long_window, symbol=symbol)
            if len(series.points) > self.chart_points:
                series = series.between(start=series.points[-self.chart_points].timestamp)
            if data.alerts is not None:
                series = series.marking_alerts(data.alerts)
            drawn = _Drawn(version, render_svg(series, default_title(series)))
            self._drawn[symbol] = drawn
            return drawn


class DashboardServer:
    """The dashboard on http://127.0.0.1:PORT (port 0: any free one), served from a thread."""

    def __init__(
        self, source: DashboardSource, host: str = LOOPBACK, port: int = DEFAULT_PORT, *, chart_points: int = CHART_POINTS
    ) -> None:
        self.dashboard = Dashboard(source, chart_points=chart_points)
        self._address = (host, port)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the dashboard server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> DashboardServer:
        if self._httpd is not None:
            raise RuntimeError("the dashboard server is running already")
        self._httpd = _Server(self._address, _Handler, self.dashboard)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="tickstack-dashboard", kwargs={"poll_interval": 0.2})
        self._thread.start()
        log.info("dashboard on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, wait for requests in flight, close the socket, join the thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.server_close()  # joins the request threads (block_on_close)
        thread.join()
        self._httpd = self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the serving thread ends or `timeout` passes; True if it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    source: DashboardSource,
    host: str = LOOPBACK,
    port: int = DEFAULT_PORT,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard until Ctrl-C (KeyboardInterrupt); returns with the server stopped."""
    server = DashboardServer(source, host, port).start()
    try:
        if on_ready is not None:
            on_ready(server.url)
        # Short waits so that the interrupt is handled promptly whatever delivers it.
        while not server.wait(0.5):
            pass
    except KeyboardInterrupt:
        log.info("dashboard stopping")
    finally:
        server.stop()


class _Server(ThreadingHTTPServer):
    # Request threads are joined on close rather than abandoned as daemons.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, so no idle keep-alive connection holds a
    # request thread (and shutdown) open; a stalled client is dropped after `timeout`.
    protocol_version = "HTTP/1.0"
    timeout = 10

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", PAGE.encode())
        elif url.path == "/api/state":
            try:
                body = json.dumps(self.server.dashboard.state(), default=_json_default)
            except Exception as exc:  # the source's backend failing must not kill the page
                log.exception("dashboard source failed")
                self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"source failed: {exc}"})
                return
            self._send(HTTPStatus.OK, "application/json", body.encode())
        elif url.path == "/api/chart":
            symbol = (parse_qs(url.query).get("symbol") or [""])[0]
            try:
                drawn = self.server.dashboard.chart(symbol)
            except Exception as exc:
                log.exception("chart of %s failed", symbol)
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", str(exc).encode())
                return
            if drawn is None:
                self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", f"no symbol {symbol!r}".encode())
                return
            self._send(HTTPStatus.OK, "image/svg+xml; charset=utf-8", drawn.svg.encode(), {"X-Chart-Version": drawn.version})
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found")

    def _json(self, status: HTTPStatus, value: Mapping[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(value).encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's signature)
        log.debug("%s " + format, self.address_string(), *args)


def _fallback_subject(alert: Mapping[str, Any]) -> str:
    name = SIGNAL_NAMES.get(alert["signal"], alert["signal"])
    price = alert["price"]
    price = price_text(price) if isinstance(price, Decimal) else str(price)
    return f"{alert['symbol']} {name} at {price} on {alert['timestamp'][:10]}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
