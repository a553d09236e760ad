"""`tickstack dev`: a saved change to the functions' code, live on the running emulator in seconds.

The loop watches the files the Lambda package is built from (`tickstack.deploy.package`'s
`package_files`, the .py files under lambda/stock_pipeline/) by polling their modification
times and sizes every 0.2 s: no dependency beyond the standard library. On a change, each
changed file is compiled first (a syntax error is reported and nothing is deployed), then
`apply_change` rebuilds the package and puts it into both functions through the target's
`update_function_code`, which waits until each runs it (boto3's `function_updated_v2`). What
is printed is the time from the save (the file's modification time) to both functions live.

Only code goes this way. Configuration (environment, memory, the mappings, the windows) goes
through Terraform: `make deploy`. And only onto an emulator: the aws target refuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from os import PathLike
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from tickstack.deploy.package import LAMBDA_ZIP, PACKAGE_DIR, build, package_files
from tickstack.errors import TickstackError
from tickstack.targets.base import Say, Target

__all__ = ["DEV_ZIP", "WATCH_INTERVAL_SECONDS", "apply_change", "changed", "compile_errors", "function_names",
           "snapshot", "watch"]

WATCH_INTERVAL_SECONDS = 0.2
# The dev loop's own package file: a `make deploy` running meanwhile reads LAMBDA_ZIP undisturbed, and
# builds it afresh from the same sources anyway.
DEV_ZIP = LAMBDA_ZIP.with_name("stock_pipeline-dev.zip")

# path -> (modification time in ns, size)
Snapshot = dict[Path, tuple[int, int]]


def snapshot(package_dir: Path = PACKAGE_DIR) -> Snapshot:
    """The package's source files as they are now."""
    state: Snapshot = {}
    for path in package_files(package_dir):
        try:
            info = path.stat()
        except FileNotFoundError:  # removed between the listing and the look
            continue
        state[path] = (info.st_mtime_ns, info.st_size)
    return state


def changed(before: Snapshot, after: Snapshot) -> list[Path]:
    """Files added, removed or modified between two snapshots."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def compile_errors(paths: list[Path]) -> list[str]:
    """`file:line: message` for each file that is not valid Python; nothing when all compile."""
    errors = []
    for path in paths:
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            errors.append(f"{path}:{exc.lineno}: {exc.msg}")
        except (ValueError, OSError) as exc:  # a NUL byte; a file gone again
            errors.append(f"{path}: {exc}")
    return errors


def function_names(target: Target) -> list[str]:
    """Both deployed functions, ingest first."""
    return list(target.outputs["function_names"].values())


def apply_change(target: Target, out: str | PathLike[str] = DEV_ZIP, package_dir: Path = PACKAGE_DIR,
                 clock: Callable[[], float] = time.perf_counter) -> float:
    """Rebuild the package and put it into both functions; the seconds until both run it."""
    started = clock()
    out = Path(out)
    build(out, package_dir)
    target.update_function_code(function_names(target), out.read_bytes())
    return clock() - started


def watch(
    target: Target,
    say: Say,
    *,
    package_dir: Path = PACKAGE_DIR,
    out: str | PathLike[str] = DEV_ZIP,
    interval: float = WATCH_INTERVAL_SECONDS,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], float] = time.time,
    apply: Callable[..., float] = apply_change,
) -> list[float]:
    """Apply each saved change until `stop()`; the save-to-live seconds of each change applied."""
    known = snapshot(package_dir)
    looked = wall_clock()
    live_after: list[float] = []
    while not stop():
        sleep(interval)
        previous_look, looked = looked, wall_clock()
        current = snapshot(package_dir)
        paths = changed(known, current)
        if not paths:
            continue
        known = current
        # The save happened since the previous look; the file's own time says when (a copy that kept
        # an old time, or a clock that jumped, is held to that interval).
        newest = max((current[path][0] / 1e9 for path in paths if path in current), default=looked)
        saved_at = min(max(newest, previous_look), looked)
        names = ", ".join(_shown(path, package_dir) for path in paths)
        errors = compile_errors([path for path in paths if path in current])
        if errors:
            for error in errors:
                say(f"syntax error: {error}")
            say(f"not deployed: {names} (the functions keep the code they had; save again once it compiles)")
            continue
        try:
            seconds = apply(target, out=out, package_dir=package_dir)
        except (TickstackError, BotoCoreError, ClientError) as exc:
            say(f"not deployed: {names}: {exc}")
            continue
        live = max(wall_clock() - saved_at, seconds)
        live_after.append(live)
        say(f"live {live:.2f} s after the save of {names} (build and update {seconds:.2f} s)")
    return live_after


def _shown(path: Path, package_dir: Path) -> str:
    try:
        return str(path.relative_to(package_dir.parent))
    except ValueError:
        return str(path)
