"""The embedded emulator: MiniStack run as a child process on loopback, no Docker needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from tickstack.settings import Settings
from tickstack.waiting import wait_until

HEALTH_PATH = "/_ministack/health"
SQS_PEEK_PATH = "/_ministack/sqs/messages"


class EmulatorError(RuntimeError):
    pass


def http_json(url: str, timeout: float = 2.0):
    # Emulators' developer endpoints; LocalStack's answer in XML unless asked for JSON.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback URL built by us
        return json.loads(response.read().decode())


class MiniStack:
    name = "ministack"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.endpoint = settings.endpoint
        self.dir = settings.backend_dir(self.name)
        self.pid_file = self.dir / "ministack.pid"
        self.log_file = self.dir / "ministack.log"

    def terraform_vars(self, say) -> dict[str, str]:
        """MiniStack emulates every service the stack uses, so nothing is switched off."""
        return {}

    def healthy(self) -> bool:
        try:
            http_json(self.endpoint + HEALTH_PATH, timeout=1.0)
        except (OSError, ValueError):
            return False
        return True

    def _pid(self) -> int | None:
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
        return self._pid() is not None

    def start(self, timeout: float = 30.0) -> str:
        """Start MiniStack unless ours is already up; return a line saying what happened."""
        if self.running() and self.healthy():
            return f"MiniStack already running at {self.endpoint} (pid {self._pid()})"
        if self.healthy():
            raise EmulatorError(
                f"something else already answers at {self.endpoint}; stop it or pick another port with TICKSTACK_PORT"
            )
        env = dict(os.environ)
        env.update(
            BIND_HOST="127.0.0.1",
            GATEWAY_PORT=str(self.settings.port),
            MINISTACK_REGION=self.settings.region,
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
            cwd=self.dir,
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
            self.stop()
            raise
        return f"MiniStack started at {self.endpoint} (pid {process.pid}, log {self.log_file})"

    def stop(self, timeout: float = 10.0) -> str:
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return "MiniStack was not running"
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            wait_until(lambda: self._pid() is None or _reap(pid), timeout=timeout, what="MiniStack to exit")
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return f"MiniStack stopped (pid {pid})"

    def peek_queue(self, queue_url: str) -> list[dict]:
        """Messages in an SQS queue, read without consuming them."""
        query = urllib.parse.urlencode({"QueueUrl": queue_url})
        data = http_json(f"{self.endpoint}{SQS_PEEK_PATH}?{query}", timeout=5.0)
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
