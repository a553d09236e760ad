"""Headless Chromium for tests that render a page and read it back.

`chromium()` finds Debian's `chromium` or installs it (`apt-get update`, then
`apt-get install -y chromium`); a test fails, saying why, when it cannot be installed.
Every run gets its own profile directory and process group, and a run that overstays its
timeout is killed with its whole group, so nothing is left behind.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser")
INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 90


class BrowserUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Chromium:
    executable: str

    def dump_dom(self, url: str, *, virtual_time_ms: int = 3000, window: tuple[int, int] = (1200, 800)) -> str:
        """The DOM after the page's scripts ran for `virtual_time_ms` of virtual time."""
        return self._run(url, ["--dump-dom"], virtual_time_ms, window)

    def screenshot(
        self, url: str, out: Path, *, virtual_time_ms: int = 3000, window: tuple[int, int] = (1200, 800)
    ) -> Path:
        out = Path(out).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        self._run(url, [f"--screenshot={out}"], virtual_time_ms, window)
        if not out.is_file():
            raise AssertionError(f"chromium wrote no screenshot to {out}")
        return out

    def _run(self, url: str, action: list[str], virtual_time_ms: int, window: tuple[int, int]) -> str:
        with tempfile.TemporaryDirectory(prefix="tickstack-chromium-") as profile:
            command = [
                self.executable,
                "--headless",
                "--no-sandbox",  # tests run as root in containers
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={window[0]},{window[1]}",
                f"--virtual-time-budget={virtual_time_ms}",
                *action,
                url,
            ]
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group: killed as one on timeout
            )
            try:
                stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise AssertionError(f"chromium did not finish {url} within {RUN_TIMEOUT_S} s") from None
            finally:
                # The browser's helpers (zygote, GPU, network) share its group; none may outlive it.
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if process.returncode != 0:
                raise AssertionError(f"chromium exited {process.returncode} on {url}:\n{stderr[-2000:]}")
            return stdout


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@functools.cache
def _ensure() -> str | BrowserUnavailable:
    """Asked once per session: a failed install is not retried test after test."""
    try:
        return _install_if_missing()
    except BrowserUnavailable as exc:
        return exc


def _install_if_missing() -> str:
    """The executable, installing Debian's chromium when absent; BrowserUnavailable says why not."""
    found = find_chromium()
    if found:
        return found
    if not shutil.which("apt-get"):
        raise BrowserUnavailable("chromium is not installed and there is no apt-get to install it with")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise BrowserUnavailable("chromium is not installed; installing it needs root and there is no sudo")
        prefix = ["sudo", "-n"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    for step in (["apt-get", *lock_wait, "update"], ["apt-get", *lock_wait, "install", "-y", "chromium"]):
        try:
            done = subprocess.run(
                prefix + step, capture_output=True, text=True, env=environment, timeout=INSTALL_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise BrowserUnavailable(f"`{' '.join(step)}` did not finish within {INSTALL_TIMEOUT_S} s") from None
        if done.returncode != 0:
            # Someone else may have installed it meanwhile (the dpkg lock was theirs).
            found = find_chromium()
            if found:
                return found
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise BrowserUnavailable(f"`{' '.join(step)}` failed ({done.returncode}): {' | '.join(tail)}")
    found = find_chromium()
    if not found:
        raise BrowserUnavailable("apt-get installed chromium but no chromium executable is on PATH")
    return found


def chromium() -> Chromium:
    """Headless Chromium, installed if needed. A page is tested as a person sees it, so a machine that
    cannot install it fails the calling test, saying why: a skipped test would check nothing."""
    found = _ensure()
    if isinstance(found, BrowserUnavailable):
        pytest.fail(f"these tests need headless Chromium, which cannot be installed here: {found}. "
                    "Install Debian's chromium (`sudo apt-get update && sudo apt-get install chromium`) "
                    "or put a chromium executable on PATH.", pytrace=False)
    return Chromium(found)


# -- reading a dumped DOM back ------------------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str]

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str | bool) -> list[Element]:
        """Elements by tag and attributes (`data_x=` is data-x, `class_=` is class); True: present."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attrs.items()}
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and all((name in e.attrs) if value is True else e.attrs.get(name) == value for name, value in wanted.items())
        ]

    def by_id(self, element_id: str) -> Element:
        found = self.find_all(id=element_id)
        if len(found) != 1:
            raise AssertionError(f"expected one element with id {element_id!r}, found {len(found)}")
        return found[0]


def parse_dom(markup: str) -> Element:
    """A small tree of the page (tag, attributes, text): enough to read values back by id and data-*."""
    from html.parser import HTMLParser

    root = Element("#document", {}, [])
    stack = [root]

    class Builder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            element = Element(tag, {name: value or "" for name, value in attrs}, [])
            stack[-1].children.append(element)
            if tag not in _VOID:
                stack.append(element)

        def handle_startendtag(self, tag, attrs):
            stack[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}, []))

        def handle_endtag(self, tag):
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].tag == tag:
                    del stack[depth:]
                    return

        def handle_data(self, data):
            stack[-1].children.append(data)

    builder = Builder(convert_charrefs=True)
    builder.feed(markup)
    builder.close()
    return root


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR; raises unless the file starts like a PNG."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise AssertionError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
