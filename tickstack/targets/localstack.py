"""LocalStack in Docker: what the pipeline reads from any LocalStack, and the one docker compose runs.

`LocalStack` speaks to a LocalStack answering on the target's endpoint, however it was started:
its health, which services it offers, its SQS peek. How it is started and stopped is left to a
subclass: `ComposeLocalStack` (docker compose, for `tickstack up`) here, and the end-to-end
tests' testcontainers one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from abc import abstractmethod

from tickstack.errors import EmulatorError
from tickstack.settings import PROJECT_ROOT, Settings
from tickstack.targets.base import EmulatorTarget, Say
from tickstack.targets.http import answers, http_json, queue_peek_url

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
COMPOSE_PROJECT = "tickstack"
# The last release that runs without an account; docker-compose.yml and the e2e container use the same.
DEFAULT_IMAGE = "localstack/localstack:4.14.0"
# What the pipeline uses. Glue and Athena load only where the image and token offer them.
SERVICES = ("kinesis", "lambda", "dynamodb", "dynamodbstreams", "s3", "sns", "sqs", "iam", "sts", "logs",
            "cloudwatch", "glue", "athena")
POLL_INTERVAL_SEC = "1"
HEALTH_PATH = "/_localstack/health"
SQS_PEEK_PATH = "/_aws/sqs/messages"
PAID_SERVICES = ("glue", "athena")
UP_STATES = ("available", "running")

NO_DOCKER = ("no Docker engine answers: LocalStack runs in Docker; start Docker, "
             "or use the embedded emulator (TARGET=ministack)")
NO_COMPOSE = "`docker compose` is not available: install the Docker Compose plugin (Compose v2)"
GLUE_OFF_FREE_TIER = ("Glue and Athena are not in LocalStack's free tier: the Glue table is switched off; "
                      "set LOCALSTACK_AUTH_TOKEN to switch it on")
GLUE_OFF_WITH_TOKEN = ("LOCALSTACK_AUTH_TOKEN is set but this LocalStack offers no Glue or Athena: the Glue table "
                       "is switched off; set LOCALSTACK_IMAGE to an image your plan covers "
                       "(e.g. localstack/localstack:latest) to switch it on")
TOKEN_HINT = "; an image newer than 4.14.0 exits (code 55) without LOCALSTACK_AUTH_TOKEN"
# Where LocalStack's container expects the Docker socket (docker-compose.yml mounts the host's there).
CONTAINER_DOCKER_SOCKET = "/var/run/docker.sock"
# The image LocalStack runs a Python function in: public.ecr.aws/lambda/python:<version of the runtime>.
LAMBDA_IMAGE_REPOSITORY = "public.ecr.aws/lambda/python"
VARIABLES_TF = PROJECT_ROOT / "terraform" / "variables.tf"


def image() -> str:
    return os.environ.get("LOCALSTACK_IMAGE") or DEFAULT_IMAGE


def auth_token() -> str | None:
    return os.environ.get("LOCALSTACK_AUTH_TOKEN") or None


def lambda_runtime() -> str:
    """The functions' runtime: TF_VAR_lambda_runtime, else terraform/variables.tf's default."""
    configured = os.environ.get("TF_VAR_lambda_runtime")
    if configured:
        return configured
    match = re.search(r'variable\s+"lambda_runtime"\s*\{.*?default\s*=\s*"([^"]+)"', VARIABLES_TF.read_text(), re.DOTALL)
    if match is None:
        raise EmulatorError(f"no default for lambda_runtime in {VARIABLES_TF}")
    return match.group(1)


def lambda_image(runtime: str) -> str:
    """The Lambda base image of a Python runtime, e.g. python3.13 -> public.ecr.aws/lambda/python:3.13."""
    return f"{LAMBDA_IMAGE_REPOSITORY}:{runtime.removeprefix('python')}"


def docker_engine_answers(timeout: float = 5.0) -> bool:
    """True when a Docker engine (not just the client) responds."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


class LocalStack(EmulatorTarget):
    """A LocalStack answering on the endpoint; starting and stopping it is a subclass's business."""

    name = "localstack"
    product = "LocalStack"

    def services(self) -> dict[str, str]:
        return http_json(self.endpoint + HEALTH_PATH, timeout=2.0).get("services", {})

    def healthy(self) -> bool:
        return answers(self.endpoint + HEALTH_PATH, timeout=2.0)

    def terraform_variables(self, say: Say) -> dict[str, str]:
        """Switch the Glue table off unless this LocalStack offers Glue and Athena (a paid plan)."""
        variables = super().terraform_variables(say)
        services = self.services()
        if all(services.get(name) in UP_STATES for name in PAID_SERVICES):
            return variables
        say(GLUE_OFF_WITH_TOKEN if auth_token() else GLUE_OFF_FREE_TIER)
        return {**variables, "enable_glue": "false"}

    def audit_messages(self, queue_url: str) -> list[dict]:
        """ReceiveMessage's shape, as JSON."""
        data = http_json(queue_peek_url(self.endpoint, SQS_PEEK_PATH, queue_url), timeout=5.0)
        result = (data.get("ReceiveMessageResponse") or {}).get("ReceiveMessageResult") or {}
        messages = result.get("Message") or []
        # Converted from XML: one message comes as an object, several as a list.
        return messages if isinstance(messages, list) else [messages]

    @abstractmethod
    def start(self, say: Say) -> None: ...

    @abstractmethod
    def stop(self, say: Say) -> None: ...

    @abstractmethod
    def running(self) -> bool: ...


class ComposeLocalStack(LocalStack):
    """LocalStack run by ``docker compose`` from the project's docker-compose.yml, on loopback."""

    def __init__(self, settings: Settings, run=None, docker_probe=None):
        super().__init__(settings)
        self._run = run or subprocess.run
        self._docker_probe = docker_probe or docker_engine_answers

    def _compose(self, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
        # The port the rest of tickstack uses, whatever the caller's environment says.
        env = {**os.environ, "TICKSTACK_PORT": str(self.settings.port)}
        command = ["docker", "compose", "--file", str(COMPOSE_FILE), "--project-name", COMPOSE_PROJECT, *args]
        return self._run(command, env=env, text=True, capture_output=capture, stdin=subprocess.DEVNULL, check=False)

    def running(self) -> bool:
        try:
            result = self._compose("ps", "--status", "running", "--quiet", "localstack")
        except OSError:
            return False
        return result.returncode == 0 and bool(result.stdout.strip())

    def start(self, say: Say, timeout: float = 180.0) -> None:
        """Start LocalStack unless ours is already up."""
        if not self._docker_probe():
            raise EmulatorError(NO_DOCKER)
        if self.running() and self.healthy():
            say(f"LocalStack already running at {self.endpoint} (docker compose project {COMPOSE_PROJECT})")
            return
        if self.healthy():
            raise EmulatorError(
                f"something else already answers at {self.endpoint}; stop it or pick another port with TICKSTACK_PORT"
            )
        if self._compose("version").returncode != 0:
            raise EmulatorError(NO_COMPOSE)
        # --wait returns once the compose health check (/_localstack/health) passes.
        result = self._compose("up", "--detach", "--wait", "--wait-timeout", str(int(timeout)), capture=False)
        if result.returncode != 0:
            hint = TOKEN_HINT if image() != DEFAULT_IMAGE and not auth_token() else ""
            raise EmulatorError(f"`docker compose up` failed (exit {result.returncode}); see the output above "
                                f"and `docker compose logs localstack`{hint}")
        if not self.healthy():
            raise EmulatorError(f"LocalStack is up in Docker but does not answer at {self.endpoint}")
        self.forget_deployment()
        say(f"LocalStack started at {self.endpoint} ({image()}, docker compose project {COMPOSE_PROJECT})")

    def prepare(self, say: Say) -> None:
        """Before Terraform runs: can this LocalStack run functions? Refuse in one line naming the fix.

        Without Lambda, or without the Docker socket in its container, LocalStack accepts the functions
        and then leaves them Failed; Terraform would wait for them, and deleting one waits out a timeout.
        """
        self.require_running()
        state = self.services().get("lambda")
        if state is None:
            raise EmulatorError("this LocalStack runs no Lambda service: add lambda to SERVICES in "
                                "docker-compose.yml, then `make down` and `make up TARGET=localstack`")
        if state not in UP_STATES:
            raise EmulatorError(f"LocalStack's Lambda service is {state!r}, not available: see `docker compose "
                                "logs localstack`, then `make down` and `make up TARGET=localstack`")
        if not self.running():
            say(f"the LocalStack at {self.endpoint} is not docker compose project {COMPOSE_PROJECT}'s: "
                "whether its container can start Lambda containers is not checked")
            return
        socket = self._compose("exec", "-T", "localstack", "test", "-S", CONTAINER_DOCKER_SOCKET)
        if socket.returncode != 0:
            raise EmulatorError(f"LocalStack's container has no Docker socket at {CONTAINER_DOCKER_SOCKET}, so it "
                                "cannot start Lambda containers: mount the host's Docker socket there "
                                "(docker-compose.yml volumes; Colima or rootless Docker keep it elsewhere, see "
                                "docs/troubleshooting.md), then `make down` and `make up TARGET=localstack`")
        runtime_image = lambda_image(lambda_runtime())
        present = self._run(["docker", "image", "inspect", "--format", "{{.Id}}", runtime_image], text=True,
                            capture_output=True, stdin=subprocess.DEVNULL, check=False)
        if present.returncode != 0:
            say(f"the Lambda runtime image {runtime_image} is not on this machine: LocalStack pulls it at the "
                f"first invocation (it needs network then); `docker pull {runtime_image}` does it now")

    def stop(self, say: Say) -> None:
        if not self._docker_probe():
            say("LocalStack was not running (no Docker engine answers)")
            return
        was_running = self.running()
        # Time for LocalStack to remove the Lambda containers it started before the network goes.
        result = self._compose("down", "--volumes", "--timeout", "30", capture=False)
        if result.returncode != 0:
            raise EmulatorError(f"`docker compose down` failed (exit {result.returncode}); see the output above")
        say("LocalStack stopped (docker compose down -v)" if was_running else "LocalStack was not running")
