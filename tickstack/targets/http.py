"""The emulators' developer endpoints (health, queue peeks), spoken over plain HTTP on loopback."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from tickstack.errors import EmulatorError


def http_json(url: str, timeout: float = 2.0):
    """The JSON document at ``url``; an emulator that does not answer, or answers nonsense, is an EmulatorError."""
    # LocalStack answers its developer endpoints in XML unless asked for JSON.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback URL built by us
            return json.loads(response.read().decode())
    except (OSError, ValueError) as exc:
        raise EmulatorError(f"the emulator did not answer {url} ({exc})") from exc


def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        http_json(url, timeout=timeout)
    except EmulatorError:
        return False
    return True


def queue_peek_url(endpoint: str, path: str, queue_url: str) -> str:
    return f"{endpoint}{path}?{urllib.parse.urlencode({'QueueUrl': queue_url})}"
