"""A loopback stand-in for Yahoo Finance's push stream, speaking the format yfinance's client reads.

The real stream (what ``yfinance.live.WebSocket`` expects): the client sends ``{"subscribe": [...]}``
as a JSON text frame; the server answers with JSON text frames ``{"type": "pricing", "message": B}``
where B is the base64 of a serialized ``PricingData`` protobuf (``yfinance/pricing.proto``).

The server plays a script: frames, and ``Drop`` steps that close the connection there. A reconnecting
client gets the rest of the script from where the dropped connection stopped, so nothing pushed is
lost or pushed twice. Binds 127.0.0.1 on a free port only.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve
from yfinance.pricing_pb2 import PricingData

SUBSCRIBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Drop:
    """Close the connection at this point of the script. ``abrupt``: cut the TCP connection with no
    WebSocket close frame, as a network failure would; otherwise a clean close."""

    abrupt: bool = False


def epoch_ms(timestamp: str) -> int:
    """Milliseconds since the epoch for "2026-11-25T14:30:01.250Z" (UTC)."""
    parsed = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in timestamp else "%Y-%m-%dT%H:%M:%SZ")
    return int(parsed.replace(tzinfo=timezone.utc).timestamp() * 1000)


def pricing_frame(symbol: str, price: float, time_ms: int, *, day_high: float = 0.0, day_low: float = 0.0,
                  previous_close: float = 0.0, day_volume: int = 0, price_hint: int = 2, **fields) -> str:
    """One push as Yahoo sends it. Prices go through float32, as on the wire."""
    data = PricingData(id=symbol, price=price, time=time_ms, day_high=day_high, day_low=day_low,
                       previous_close=previous_close, day_volume=day_volume, price_hint=price_hint, **fields)
    return json.dumps({"type": "pricing", "message": base64.b64encode(data.SerializeToString()).decode()})


def undecodable_frame() -> str:
    """Valid JSON and valid base64, but no PricingData: yfinance hands it on as {"error", "raw_base64"}."""
    return json.dumps({"type": "pricing", "message": base64.b64encode(b"\xff\xff\xff\xff").decode()})


class YahooStreamServer:
    """Plays ``script`` (frames as str, and Drop steps) to whoever subscribes, across reconnections.

    Use as a context manager; ``url`` is where to connect. ``subscriptions`` holds each subscribe
    message received (symbols sorted), ``connections`` counts connections, ``finished`` is set once
    the whole script has been sent.
    """

    def __init__(self, script: Sequence[str | Drop] = ()) -> None:
        self.script = list(script)
        self.subscriptions: list[list[str]] = []
        self.connections = 0
        self.finished = threading.Event()
        self._cursor = 0
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    @property
    def sent(self) -> int:
        """Script steps played so far."""
        with self._lock:
            return self._cursor

    def __enter__(self) -> "YahooStreamServer":
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="yahoo-stream-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            self.connections += 1
        try:
            # Like Yahoo: nothing is pushed before the client says what it wants.
            self._note_subscription(connection.recv(timeout=SUBSCRIBE_TIMEOUT))
            while True:
                with self._lock:
                    if self._cursor >= len(self.script):
                        break
                    step = self.script[self._cursor]
                if isinstance(step, Drop):
                    with self._lock:
                        self._cursor += 1
                    self._drop(connection, step)
                    return
                connection.send(step)
                # Counted only once sent, so a connection lost mid-send replays that frame.
                with self._lock:
                    self._cursor += 1
            self.finished.set()
            # Script done: stay connected, as Yahoo does outside market hours, until the client leaves.
            for message in connection:
                self._note_subscription(message)
        except (ConnectionClosed, TimeoutError, OSError):
            return

    def _note_subscription(self, message: str | bytes) -> None:
        request = json.loads(message)
        if "subscribe" in request:
            with self._lock:
                self.subscriptions.append(sorted(request["subscribe"]))

    @staticmethod
    def _drop(connection: ServerConnection, step: Drop) -> None:
        if step.abrupt:
            # Frames already sent are in the kernel's buffers and still reach the client; then EOF.
            connection.socket.shutdown(socket.SHUT_RDWR)
        connection.close()
