"""The dev loop: what it watches, when it deploys, how it measures; the direct code update, on a fake Lambda API."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from tickstack.errors import EmulatorError
from tickstack.ops import dev_loop
from tickstack.settings import Settings
from tickstack.targets.base import CODE_UPDATE_POLL_SECONDS, CODE_UPDATE_TIMEOUT_SECONDS
from tickstack.targets.ministack import MiniStack


class FakeWaiter:
    def __init__(self, calls: list):
        self.calls = calls

    def wait(self, **kwargs):
        self.calls.append(("wait", kwargs["FunctionName"], kwargs["WaiterConfig"]))


class FakeLambda:
    """Records what the Lambda API was asked, in order."""

    def __init__(self):
        self.calls: list = []

    def update_function_code(self, FunctionName: str, ZipFile: bytes):  # noqa: N803 (boto3's names)
        self.calls.append(("update", FunctionName, hashlib.sha256(ZipFile).hexdigest()))
        return {"FunctionName": FunctionName, "LastUpdateStatus": "InProgress"}

    def get_waiter(self, name: str) -> FakeWaiter:
        assert name == "function_updated_v2"
        return FakeWaiter(self.calls)


class DeployedEmulator(MiniStack):
    """A deployed embedded emulator whose Lambda API is `lambda_api`."""

    def __init__(self, home: Path, lambda_api: FakeLambda | None = None):
        super().__init__(Settings(home=home, port=1, region="us-east-1", name_prefix="t"))
        self.lambda_api = lambda_api or FakeLambda()
        self.home.mkdir(parents=True)
        self.outputs_path.write_text('{"function_names": {"process": "t-process", "trend": "t-trend"}}')

    def client(self, service: str):
        assert service == "lambda"
        return self.lambda_api


@pytest.fixture
def package(tmp_path) -> Path:
    folder = tmp_path / "lambda" / "stock_pipeline"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "ticks.py").write_text("LIMIT = 1\n")
    return folder


# --- the direct update ---------------------------------------------------------------------------


def test_an_emulator_updates_every_function_first_then_waits_for_each(tmp_path):
    emulator = DeployedEmulator(tmp_path / "home")

    emulator.update_function_code(["t-process", "t-trend"], b"zip bytes")

    digest = hashlib.sha256(b"zip bytes").hexdigest()
    config = {"Delay": CODE_UPDATE_POLL_SECONDS,
              "MaxAttempts": round(CODE_UPDATE_TIMEOUT_SECONDS / CODE_UPDATE_POLL_SECONDS)}
    assert emulator.lambda_api.calls == [("update", "t-process", digest), ("update", "t-trend", digest),
                                         ("wait", "t-process", config), ("wait", "t-trend", config)]


def test_with_no_function_named_nothing_is_asked_of_an_emulator(tmp_path):
    emulator = DeployedEmulator(tmp_path / "home")
    emulator.update_function_code((), b"")
    assert emulator.lambda_api.calls == []


def test_apply_change_builds_the_package_and_puts_it_into_both_functions(tmp_path, package):
    emulator = DeployedEmulator(tmp_path / "home")
    out = tmp_path / "build" / "package.zip"
    ticks = iter([10.0, 11.25])

    seconds = dev_loop.apply_change(emulator, out=out, package_dir=package, clock=lambda: next(ticks))

    assert seconds == 1.25
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert [call[:3] for call in emulator.lambda_api.calls[:2]] == [("update", "t-process", digest),
                                                                    ("update", "t-trend", digest)]
    with zipfile.ZipFile(out) as zf:
        assert zf.read("stock_pipeline/ticks.py") == b"LIMIT = 1\n"


# --- what is watched ---------------------------------------------------------------------------------


def test_changed_names_files_added_removed_and_modified(package):
    before = dev_loop.snapshot(package)
    (package / "ticks.py").write_text("LIMIT = 22\n")  # another size: a change even within one mtime tick
    (package / "new.py").write_text("")
    (package / "__init__.py").unlink()
    (package / "notes.txt").write_text("not packaged, not watched")

    assert dev_loop.changed(before, dev_loop.snapshot(package)) == [
        package / "__init__.py", package / "new.py", package / "ticks.py"]
    assert dev_loop.changed(before, before) == []


def test_compile_errors_name_the_file_and_line(package):
    good, bad = package / "ticks.py", package / "broken.py"
    bad.write_text("def f(:\n    pass\n")
    assert dev_loop.compile_errors([good]) == []
    assert dev_loop.compile_errors([good, bad]) == [f"{bad}:1: invalid syntax"]


# --- the loop ----------------------------------------------------------------------------------------


class Script:
    """The loop's clock and sleep: each sleep runs the next scripted edit; stop once the script is done."""

    def __init__(self, edits):
        self.edits = list(edits)
        self.now = 1_000.0
        self.rounds = 0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.rounds += 1
        if self.edits:
            self.edits.pop(0)()

    def stop(self) -> bool:
        return not self.edits and self.rounds > 0

    def wall_clock(self) -> float:
        return self.now


def saved(path: Path, text: str, script: Script, seconds_ago: float = 0.05):
    """An edit saved `seconds_ago` before the loop's next look."""

    def edit():
        path.write_text(text)
        stamp = script.now - seconds_ago
        os.utime(path, (stamp, stamp))

    return edit


def test_each_saved_change_is_applied_once_and_its_save_to_live_time_said(tmp_path, package):
    emulator = DeployedEmulator(tmp_path / "home")
    ticks = package / "ticks.py"
    script = Script([])
    script.edits = [lambda: None, saved(ticks, "LIMIT = 2\n", script), lambda: None,
                    saved(ticks, "LIMIT = (\n", script), saved(ticks, "LIMIT = 3\n", script, seconds_ago=0.1)]
    applied, said = [], []

    def apply(target, out, package_dir):
        applied.append(ticks.read_text())
        script.now += 0.8  # the build and the update
        return 0.8

    live = dev_loop.watch(emulator, said.append, package_dir=package, out=tmp_path / "p.zip", stop=script.stop,
                          sleep=script.sleep, wall_clock=script.wall_clock, apply=apply)

    assert applied == ["LIMIT = 2\n", "LIMIT = 3\n"]  # not the one that does not compile
    assert live == pytest.approx([0.85, 0.9])
    assert said == [
        "live 0.85 s after the save of stock_pipeline/ticks.py (build and update 0.80 s)",
        f"syntax error: {ticks}:1: '(' was never closed",
        "not deployed: stock_pipeline/ticks.py (the functions keep the code they had; save again once it compiles)",
        "live 0.90 s after the save of stock_pipeline/ticks.py (build and update 0.80 s)",
    ]


def test_a_failed_update_is_said_and_the_loop_goes_on(tmp_path, package):
    emulator = DeployedEmulator(tmp_path / "home")
    script = Script([])
    script.edits = [saved(package / "ticks.py", "LIMIT = 5\n", script)]
    said = []

    def apply(target, out, package_dir):
        raise EmulatorError("ministack does not answer at http://127.0.0.1:1")

    assert dev_loop.watch(emulator, said.append, package_dir=package, stop=script.stop, sleep=script.sleep,
                          wall_clock=script.wall_clock, apply=apply) == []
    assert said == ["not deployed: stock_pipeline/ticks.py: ministack does not answer at http://127.0.0.1:1"]


def test_a_file_with_an_old_time_counts_from_the_previous_look(tmp_path, package):
    # A copy that kept its modification time (cp -p, an archive): the save happened after the last look.
    emulator = DeployedEmulator(tmp_path / "home")
    script = Script([])
    script.edits = [saved(package / "ticks.py", "LIMIT = 7\n", script, seconds_ago=3600)]

    def apply(target, out, package_dir):
        script.now += 0.5
        return 0.5

    live = dev_loop.watch(emulator, lambda line: None, package_dir=package, stop=script.stop, sleep=script.sleep,
                          wall_clock=script.wall_clock, apply=apply, interval=0.2)
    assert live == pytest.approx([0.7])
