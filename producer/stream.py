"""Yahoo Finance's live stream through yfinance's client, kept connected.

yfinance's ``WebSocket`` connects, subscribes and decodes frames, but when the server closes the
connection its ``listen()`` just returns: staying connected is this module's job. ``YahooStream``
reconnects with jittered exponential backoff and subscribes again, counts undecodable frames instead
of stopping on them, says when nothing has been pushed for a while (outside market hours the stream
is simply quiet), and raises ``StreamUnavailable`` when the stream cannot be reached at all, so the
caller can fall back to polling.

``listen()`` blocks in ``recv()`` with no timeout, so it runs in a thread of its own per connection
and only moves decoded messages into a queue; everything else (bars, backoff, stopping) happens in
the caller's thread, which is woken at least every ``wakeup`` seconds.
"""

from __future__ import annotations

import inspect
import logging
import os
import queue
import random
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Protocol

from websockets.exceptions import WebSocketException

log = logging.getLogger(__name__)

URL_ENVIRONMENT_VARIABLE = "TICKSTACK_YAHOO_STREAM_URL"

# What connecting and subscribing raise when the server is not there or refuses us: refused or reset
# sockets, DNS failures and timeouts are OSErrors; bad URLs, handshakes and closes are websockets'.
CONNECT_ERRORS = (OSError, WebSocketException)

# A connection that stayed up this long was fine even if nothing was pushed (a quiet night): its
# closing starts a new count of reconnect attempts instead of adding to the last one.
HEALTHY_CONNECTION_SECONDS = 30.0


class StreamUnavailable(RuntimeError):
    """The stream could not be reached (or reached again) within the configured attempts.

    The message is one line naming the URL, the attempts and the last error. ``run_live`` sets
    ``stats`` to its counters so far before re-raising.
    """

    stats = None


class StreamClient(Protocol):
    """The part of ``yfinance.WebSocket`` used here."""

    def subscribe(self, symbols: list[str]) -> None: ...
    def listen(self, message_handler: Callable[[dict], None]) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """How hard to try: delays double from ``initial`` up to ``maximum``, each jittered to 50-100 %.

    ``first_connect_attempts``: attempts before a stream never reached is declared unavailable.
    ``max_attempts`` / ``max_outage`` (seconds, None for no limit): once connected, how many failed
    reconnects in a row, or how long without a push, before giving up.
    """

    initial: float = 0.5
    maximum: float = 30.0
    first_connect_attempts: int = 5
    max_attempts: int = 20
    max_outage: float | None = 600.0

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        # Jitter keeps many producers cut off together from knocking again all at the same instant.
        return min(self.maximum, self.initial * 2 ** max(failures - 1, 0)) * (0.5 + rng() / 2)


@dataclass
class StreamCounts:
    connects: int = 0          # connections opened and subscribed, the first one included
    reconnects: int = 0        # connections opened after an earlier one closed
    connect_failures: int = 0  # attempts that did not get a connection
    frames: int = 0            # messages yfinance handed over, undecodable ones included
    decode_errors: int = 0     # frames yfinance could not decode ({"error": ..., "raw_base64": ...})
    idle_notices: int = 0      # times the stream was quiet for ``idle_after`` seconds


def stream_url(environ: dict[str, str] | None = None) -> str:
    """``TICKSTACK_YAHOO_STREAM_URL`` when set, else yfinance's own default URL (read from its client)."""
    environ = os.environ if environ is None else environ
    if environ.get(URL_ENVIRONMENT_VARIABLE):
        return environ[URL_ENVIRONMENT_VARIABLE]
    from yfinance.live import WebSocket

    return inspect.signature(WebSocket.__init__).parameters["url"].default


def yfinance_client(url: str) -> StreamClient:
    import yfinance

    # yfinance logs every failed connect, close and bad frame with a traceback; this module reports
    # each once, in one line.
    logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    # yfinance shows DeprecationWarnings raised in its modules, and its client opens each connection the
    # way websockets 17 deprecates: the user would get that warning, with source, on every connect.
    warnings.filterwarnings("ignore", message=r"connect\(\) must be used as a context manager",
                            category=DeprecationWarning)
    return yfinance.WebSocket(url=url, verbose=False)


class _Closed:
    """Put in the inbox by the listener thread when ``listen()`` ended."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def __str__(self) -> str:
        if self.error is None:
            return "the server closed the connection"
        return f"{type(self.error).__name__}: {self.error}"


class _Connection:
    def __init__(self, client: StreamClient, symbols: list[str]) -> None:
        self.client = client
        self.symbols = symbols
        self.inbox: queue.Queue = queue.Queue()
        try:
            client.subscribe(list(symbols))
        except BaseException:
            self._close_client()
            raise
        self.thread = threading.Thread(target=self._listen, name="yahoo-stream-listener", daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        try:
            self.client.listen(self.inbox.put)
        # With yfinance's hide_exceptions switched off, listen() raises instead of returning.
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread, which reconnects
            self.inbox.put(_Closed(exc))
        else:
            self.inbox.put(_Closed(None))

    def resubscribe(self) -> None:
        # What yfinance's AsyncWebSocket does every 15 s as a heartbeat; its sync client does not.
        try:
            self.client.subscribe(list(self.symbols))
        except CONNECT_ERRORS as exc:
            log.info("re-subscribing failed (%s); the listener will notice the closed connection", exc)

    def close(self) -> None:
        self._close_client()
        self.thread.join(timeout=5)

    def _close_client(self) -> None:
        try:
            self.client.close()
        except CONNECT_ERRORS as exc:
            log.debug("closing the stream connection: %s", exc)


class YahooStream:
    """Decoded pushes for ``symbols`` from the stream at ``url`` (default: ``stream_url()``).

    ``messages(stop)`` is the whole interface. ``on_idle(seconds)`` is called (and a line logged) once
    per quiet spell of ``idle_after`` seconds without a push. ``client_factory``, ``rng`` and
    ``monotonic`` are injectable for tests.
    """

    def __init__(self, symbols: Iterable[str], url: str | None = None, *, backoff: Backoff = Backoff(),
                 idle_after: float = 60.0, on_idle: Callable[[float], None] | None = None,
                 resubscribe_every: float | None = 15.0, wakeup: float = 0.05,
                 client_factory: Callable[[str], StreamClient] = yfinance_client,
                 rng: Callable[[], float] = random.random,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.symbols = sorted({s.strip().upper() for s in symbols})
        if not self.symbols:
            raise ValueError("no symbols to subscribe to")
        self.url = url or stream_url()
        self.backoff = backoff
        self.idle_after = idle_after
        self.on_idle = on_idle
        self.resubscribe_every = resubscribe_every
        self.wakeup = wakeup
        self.client_factory = client_factory
        self.rng = rng
        self.monotonic = monotonic
        self.counts = StreamCounts()

    def messages(self, stop: threading.Event) -> Iterator[dict | None]:
        """Yield each decoded push (a dict as yfinance decodes it) until ``stop`` is set.

        Also yields None at least every ``wakeup`` seconds (while connected, while waiting to
        reconnect, and after a frame that was no push) so the caller can close bars by the clock
        and send batches. Raises StreamUnavailable when the attempts in ``backoff`` run out. Close
        the generator (or let a ``for`` loop end) to close the connection.
        """
        failures = 0
        outage_since: float | None = None
        connected_before = False
        while not stop.is_set():
            if failures or connected_before:
                yield from self._pause(self.backoff.delay(max(failures, 1), self.rng), stop)
                if stop.is_set():
                    return
            try:
                connection = _Connection(self.client_factory(self.url), self.symbols)
            except CONNECT_ERRORS as exc:
                failures += 1
                self.counts.connect_failures += 1
                outage_since = outage_since if outage_since is not None else self.monotonic()
                self._give_up_if_spent(failures, outage_since, connected_before, f"{type(exc).__name__}: {exc}")
                log.warning("cannot reach the Yahoo Finance stream at %s (%s: %s); attempt %d, retrying",
                            self.url, type(exc).__name__, exc, failures)
                continue
            self.counts.connects += 1
            if connected_before:
                self.counts.reconnects += 1
                log.warning("reconnected to %s and subscribed again to %s", self.url, ", ".join(self.symbols))
            else:
                log.info("connected to %s, subscribed to %s", self.url, ", ".join(self.symbols))
            connected_before = True
            opened_at = self.monotonic()
            try:
                closed, got_push = yield from self._pump(connection, stop)
            finally:
                connection.close()
            if stop.is_set():
                return
            if got_push or self.monotonic() - opened_at >= HEALTHY_CONNECTION_SECONDS:
                failures, outage_since = 0, None
            else:
                # Closed at once with no push: as good as not reaching it, or a server that drops
                # every subscription would be reconnected to in a tight loop forever.
                failures += 1
                outage_since = outage_since if outage_since is not None else self.monotonic()
                self._give_up_if_spent(failures, outage_since, connected_before, f"{closed} before any push")
            log.warning("stream connection lost (%s); reconnecting", closed)

    def _pump(self, connection: _Connection, stop: threading.Event):
        """Yield what one connection delivers; return (why it closed, whether it pushed anything)."""
        got_push = False
        quiet_since = self.monotonic()
        told_idle = False
        next_subscribe = quiet_since + self.resubscribe_every if self.resubscribe_every else None
        while not stop.is_set():
            try:
                item = connection.inbox.get(timeout=self.wakeup)
            except queue.Empty:
                item = None
            now = self.monotonic()
            if isinstance(item, _Closed):
                return item, got_push
            if item is not None:
                self.counts.frames += 1
                if "error" in item:
                    self.counts.decode_errors += 1
                    log.warning("undecodable frame from the stream (%s): %.80s", item.get("error"),
                                item.get("raw_base64"))
                    item = None
                else:
                    got_push, quiet_since, told_idle = True, now, False
            if not told_idle and now - quiet_since >= self.idle_after:
                told_idle = True
                self._report_idle(now - quiet_since)
            if next_subscribe is not None and now >= next_subscribe:
                connection.resubscribe()
                next_subscribe = now + self.resubscribe_every
            yield item
        return _Closed(None), got_push

    def _pause(self, seconds: float, stop: threading.Event) -> Iterator[None]:
        deadline = self.monotonic() + seconds
        while not stop.is_set():
            left = deadline - self.monotonic()
            if left <= 0:
                return
            stop.wait(min(left, self.wakeup))
            yield None

    def _report_idle(self, quiet: float) -> None:
        self.counts.idle_notices += 1
        log.warning("no quotes pushed for %.0f s on %s (%s): outside market hours? still connected, waiting",
                    quiet, self.url, ", ".join(self.symbols))
        if self.on_idle is not None:
            self.on_idle(quiet)

    def _give_up_if_spent(self, failures: int, outage_since: float, connected_before: bool, last: str) -> None:
        if not connected_before:
            if failures >= self.backoff.first_connect_attempts:
                raise StreamUnavailable(
                    f"cannot reach the Yahoo Finance stream at {self.url} after {failures} attempts ({last})")
            return
        outage = self.monotonic() - outage_since
        if failures >= self.backoff.max_attempts or (
                self.backoff.max_outage is not None and outage >= self.backoff.max_outage):
            raise StreamUnavailable(
                f"lost the Yahoo Finance stream at {self.url}: {failures} reconnect attempts over {outage:.0f} s "
                f"failed ({last})")
