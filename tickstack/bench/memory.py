"""Peak resident memory of a process group: the emulator and every Lambda worker it started."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def process_group_rss(group: int) -> int:
    """Resident bytes of every process in process group ``group``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ProcessLookupError):
            continue
    return total


class PeakMemory:
    """Samples ``process_group_rss(group)`` in the background while in its ``with`` block."""

    def __init__(self, group: int, interval: float = 0.2):
        self.group, self.interval, self.peak = group, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, process_group_rss(self.group))
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
