"""The deployed stack under test, one per backend; the tests' bodies do not know which."""

from __future__ import annotations

import uuid

import pytest
from testcontainers.community.localstack import LocalStackContainer
from testcontainers.core.exceptions import ContainerStartException
from testcontainers.core.network import Network

from tests.conftest import free_port
from tickstack import lifecycle
from tickstack.backends import docker_engine_answers
from tickstack.localstack import POLL_INTERVAL_SEC, SERVICES, LocalStackEndpoint, auth_token, image
from tickstack.settings import Settings
from tickstack.stack import Stack

BACKENDS = ["ministack", "localstack"]
NO_DOCKER = "no Docker engine answers"
DOCKER_SOCKET = "/var/run/docker.sock"
# What each backend's bring-up said, e.g. that LocalStack's free tier has no Glue.
SAID: dict[str, list[str]] = {}


class PipelineLocalStackContainer(LocalStackContainer):
    """LocalStack configured as docker-compose.yml runs it, for testcontainers to start.

    Pinned image (LOCALSTACK_IMAGE overrides it), the token passed through when set, the Docker socket
    mounted for Lambda, Lambda containers on ``network``, the gateway published on 127.0.0.1 only.
    Building it starts nothing; ``start()`` returns once LocalStack logs that it is ready.
    """

    def __init__(self, settings: Settings, network: Network):
        super().__init__(image=image(), region_name=settings.region)
        self.with_services(*SERVICES)
        self.with_env("LAMBDA_DOCKER_NETWORK", network.name)
        self.with_env("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC", POLL_INTERVAL_SEC)
        token = auth_token()
        if token:
            self.with_env("LOCALSTACK_AUTH_TOKEN", token)
        self.with_volume_mapping(DOCKER_SOCKET, DOCKER_SOCKET, "rw")
        self.with_network(network)
        self.ports[str(self.edge_port)] = ("127.0.0.1", settings.port)


class ContainerLocalStack(LocalStackEndpoint):
    """The emulator the lifecycle drives, over a LocalStack that testcontainers runs instead of docker compose."""

    def __init__(self, settings: Settings, network_factory=Network, container_factory=PipelineLocalStackContainer):
        super().__init__(settings.endpoint)
        self.network = network_factory()
        self.container = container_factory(settings, self.network)
        self.started = False

    def running(self) -> bool:
        return self.started

    def start(self) -> str:
        self.network.create()
        try:
            self.container.start()
        except BaseException:
            self.container.stop()
            self.network.remove()
            raise
        self.started = True
        return f"LocalStack container started at {self.endpoint} ({self.container.image})"

    def stop(self) -> str:
        if not self.started:
            return "LocalStack container was not running"
        try:
            # SIGTERM first, so that LocalStack removes the Lambda containers it put on the network.
            self.container.get_wrapped_container().stop(timeout=30)
        except ContainerStartException:
            pass
        self.container.stop()
        self.network.remove()
        self.started = False
        return "LocalStack container and its network removed"


def _settings(tmp_path_factory, backend: str) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp(f"home-{backend}"),
        port=free_port(),
        region="us-east-1",
        # A short unique prefix per run: nothing collides with a stack a developer has up.
        name_prefix=f"e2e{uuid.uuid4().hex[:6]}",
    )


def deployed(backend: str, settings: Settings, said: list[str], docker_probe=docker_engine_answers,
             localstack=ContainerLocalStack):
    """Bring the stack up on ``backend``, yield it, take it down: the same lifecycle as `tickstack up`/`down`."""
    if backend == "localstack" and not docker_probe():
        pytest.skip(NO_DOCKER)
    stack = Stack(backend, settings)
    if backend == "localstack":
        stack.emulator = localstack(settings)

    def say(line: str) -> None:
        print(line)
        said.append(line)

    try:
        lifecycle.up(stack, say)
    except BaseException:
        lifecycle.down(stack, say)
        raise
    yield stack
    lifecycle.down(stack, say)


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request, tmp_path_factory):
    backend = request.param
    yield from deployed(backend, _settings(tmp_path_factory, backend), SAID.setdefault(backend, []))


@pytest.fixture(scope="session")
def said(stack) -> list[str]:
    """Every line the stack's bring-up said, e.g. that a service it lacks is switched off."""
    return SAID[stack.backend]
