"""The embedded emulator: MiniStack run as a child process on loopback, no Docker needed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tickstack.deploy.terraform import Terraform
from tickstack.errors import EmulatorError
from tickstack.targets.base import EmulatorTarget, Say
from tickstack.targets.http import answers, http_json, queue_peek_url
from tickstack.waiting import wait_until

HEALTH_PATH = "/_ministack/health"
SQS_PEEK_PATH = "/_ministack/sqs/messages"
PERSIST_VARIABLE = "TICKSTACK_PERSIST"
# After a restart from saved state the table's stream starts afresh while the trend mapping's
# position does not: it would skip as many new records as it had read. A new mapping starts clean.
TREND_MAPPING = "aws_lambda_event_source_mapping.ticks_table_stream"
# Runs MiniStack as its console script does, without what it loads and never uses.
LAUNCHER = "tickstack.ministack_launch"


def persistence_asked() -> bool:
    return os.environ.get(PERSIST_VARIABLE, "") not in ("", "0", "false")


class MiniStack(EmulatorTarget):
    """MiniStack on loopback. With persistence (`TICKSTACK_PERSIST=1`, or `persist=True`) its state is
    saved when it stops (SIGTERM: `tickstack down`, or `kill`) and restored when it starts again."""

    name = "ministack"
    product = "MiniStack"

    def __init__(self, settings, persist: bool | None = None, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(settings)
        # Added to the emulator's environment, and so to its Lambda workers' (`make bench` counts requests so).
        self.extra_env = dict(extra_env or {})
        # Asked for now, or the stack was started with it and still holds its state.
        self.persist = (persistence_asked() or self.persist_marker.exists()) if persist is None else persist
        self.restored = False

    @property
    def persist_marker(self) -> Path:
        return self.home / "persistent"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def s3_dir(self) -> Path:
        return self.home / "s3"

    @property
    def keeps_state(self) -> bool:
        return self.persist

    def saved_state(self) -> bool:
        return any(self.state_dir.glob("*.json"))

    def wipe(self, say: Say) -> None:
        for folder in (self.state_dir, self.s3_dir):
            if folder.exists():
                shutil.rmtree(folder)
        self.persist_marker.unlink(missing_ok=True)
        self.persist = False
        say(f"saved MiniStack state removed ({self.state_dir})")

    @property
    def pid_file(self) -> Path:
        return self.home / "ministack.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "ministack.log"

    def healthy(self) -> bool:
        return answers(self.endpoint + HEALTH_PATH)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        # An exited child of ours lingers as a zombie until reaped: reap it, so it does not look alive.
        if _reap(pid):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, say: Say, timeout: float = 30.0) -> None:
        """Start MiniStack unless ours is already up."""
        if self.running() and self.healthy():
            say(f"MiniStack already running at {self.endpoint} (pid {self.pid()})")
            return
        if self.healthy():
            raise EmulatorError(
                f"something else already answers at {self.endpoint}; stop it or pick another port with TICKSTACK_PORT"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            BIND_HOST="127.0.0.1",
            GATEWAY_PORT=str(self.settings.port),
            MINISTACK_REGION=self.region,
            LAMBDA_EXECUTOR="local",
        )
        env.update(self.extra_env)
        self.restored = self.persist and self.saved_state()
        if self.persist:
            env.update(PERSIST_STATE="1", STATE_DIR=str(self.state_dir), S3_PERSIST="1", S3_DATA_DIR=str(self.s3_dir))
            self.persist_marker.touch()
        # Lambda handlers run on MiniStack's own interpreter: this venv's, which has the handlers' dependencies.
        command = [sys.executable, "-P", "-m", LAUNCHER]
        log = open(self.log_file, "ab")  # noqa: SIM115 - the child keeps writing after we return
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.home,
            # Its own process group, so stop() also ends the Lambda workers it spawns.
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(f"{process.pid}\n")

        def up() -> bool:
            if process.poll() is not None:
                raise EmulatorError(f"MiniStack exited with code {process.returncode}; see {self.log_file}")
            return self.healthy()

        try:
            wait_until(up, timeout=timeout, what=f"MiniStack health at {self.endpoint}{HEALTH_PATH}",
                       give_up_on=(EmulatorError,))
        except Exception:
            self.stop(lambda line: None)
            raise
        if self.restored:
            say(f"MiniStack started at {self.endpoint} from its saved state in {self.state_dir} "
                f"(pid {process.pid}, log {self.log_file})")
            return
        # A newly started emulator holds nothing, so state left from an earlier run describes nothing real.
        self.forget_deployment()
        kept = f", state saved on stop to {self.state_dir}" if self.persist else ""
        say(f"MiniStack started at {self.endpoint} (pid {process.pid}, log {self.log_file}{kept})")

    def stop(self, say: Say, timeout: float = 10.0) -> None:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            say("MiniStack was not running")
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            wait_until(lambda: self.pid() is None, timeout=timeout, what="MiniStack to exit")
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        kept = f"; its state is kept in {self.state_dir} (`tickstack down --wipe` forgets it)" if self.persist else ""
        say(f"MiniStack stopped (pid {pid}){kept}")

    def apply(self, terraform: Terraform, say: Say) -> dict:
        """Apply; after a restart from saved state, also restart the trend mapping and wake every symbol."""
        if not self.restored:
            return terraform.apply()
        outputs = terraform.apply(f"-replace={TREND_MAPPING}")
        from tickstack.ops.recovery import wake_trend_analysis  # the ops layer sits above the targets

        woken = wake_trend_analysis(self)
        say(f"restored from saved state: the trend mapping restarted, {woken} symbols caught up")
        self.restored = False
        return outputs

    def audit_messages(self, queue_url: str) -> list[dict]:
        data = http_json(queue_peek_url(self.endpoint, SQS_PEEK_PATH, queue_url), timeout=5.0)
        found: list[dict] = []
        for regions in data.get("messages", {}).values():
            for queues in regions.values():
                for messages in queues.values():
                    found.extend(messages)
        return found


def _reap(pid: int) -> bool:
    """True once ``pid`` has exited (reaping it when it is our child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid
