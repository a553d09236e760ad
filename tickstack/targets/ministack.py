"""The embedded emulator: MiniStack run as a child process on loopback, no Docker needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tickstack.errors import EmulatorError
from tickstack.targets.base import EmulatorTarget, Say
from tickstack.targets.http import answers, http_json, queue_peek_url
from tickstack.waiting import wait_until

HEALTH_PATH = "/_ministack/health"
SQS_PEEK_PATH = "/_ministack/sqs/messages"


class MiniStack(EmulatorTarget):
    name = "ministack"
    product = "MiniStack"

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
        # Lambda handlers run on MiniStack's own interpreter: this venv's, which has the handlers' dependencies.
        executable = Path(sys.executable).parent / "ministack"
        log = open(self.log_file, "ab")  # noqa: SIM115 - the child keeps writing after we return
        process = subprocess.Popen(
            [str(executable)],
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
        # A newly started emulator holds nothing, so state left from an earlier run describes nothing real.
        self.forget_deployment()
        say(f"MiniStack started at {self.endpoint} (pid {process.pid}, log {self.log_file})")

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
            wait_until(lambda: self.pid() is None or _reap(pid), timeout=timeout, what="MiniStack to exit")
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        say(f"MiniStack stopped (pid {pid})")

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
