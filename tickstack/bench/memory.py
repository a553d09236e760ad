"""Peak resident memory of a process group: the emulator and every Lambda worker it started."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

# MiniStack unpacks each function into a directory named after it, and runs its worker from there.
_WORKER = re.compile(r"ministack-lambda-(?P<function>.+)-[a-z0-9_]+/_worker")


def process_rss(group: int) -> dict[str, int]:
    """Resident bytes of each process in process group ``group``, by what it is.

    The group's leader is "emulator"; a Lambda worker is named by its function; anything else by
    its pid. Two workers of one function add up under its name.
    """
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if os.getpgid(pid) != group:
                continue
            rss = next((int(line.split()[1]) * 1024 for line in (entry / "status").read_text().splitlines()
                        if line.startswith("VmRSS:")), 0)
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ProcessLookupError):
            continue
        worker = _WORKER.search(command)
        name = "emulator" if pid == group else worker["function"] if worker else f"pid {pid}"
        found[name] = found.get(name, 0) + rss
    return found


def process_group_rss(group: int) -> int:
    """Resident bytes of every process in process group ``group``."""
    return sum(process_rss(group).values())


class PeakMemory:
    """Samples ``process_rss(group)`` in the background while in its ``with`` block.

    ``peak`` is the highest total seen, ``at_peak`` what each process held at that sample.
    """

    def __init__(self, group: int, interval: float = 0.2):
        self.group, self.interval, self.peak = group, interval, 0
        self.at_peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            now = process_rss(self.group)
            if sum(now.values()) > self.peak:
                self.peak, self.at_peak = sum(now.values()), now
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
