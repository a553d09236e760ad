"""The deployed stack under test, one per target; the tests' bodies do not know which."""

from __future__ import annotations

import uuid

import pytest
from testcontainers.community.localstack import LocalStackContainer
from testcontainers.core.exceptions import ContainerStartException
from testcontainers.core.network import Network

from tests.conftest import free_port
from tickstack.deploy import pipeline
from tickstack.settings import Settings
from tickstack.targets.base import Target
from tickstack.targets.localstack import (POLL_INTERVAL_SEC, SERVICES, LocalStack, auth_token,
                                          docker_engine_answers, image)
from tickstack.targets.ministack import MiniStack

NO_DOCKER = "no Docker engine answers"
DOCKER_SOCKET = "/var/run/docker.sock"
# What each target's bring-up said, e.g. that LocalStack's free tier has no Glue.
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


class ContainerLocalStack(LocalStack):
    """The localstack target, run by testcontainers instead of docker compose: all else is LocalStack's."""

    requires_docker = True

    def __init__(self, settings: Settings, network_factory=Network, container_factory=PipelineLocalStackContainer):
        super().__init__(settings)
        # Made on start(): building either already talks to the Docker engine, which may not answer.
        self._network_factory, self._container_factory = network_factory, container_factory
        self.network = self.container = None
        self.started = False

    def running(self) -> bool:
        return self.started

    def start(self, say) -> None:
        self.network = self._network_factory()
        self.container = self._container_factory(self.settings, self.network)
        self.network.create()
        try:
            self.container.start()
        except BaseException:
            self.container.stop()
            self.network.remove()
            raise
        self.started = True
        say(f"LocalStack container started at {self.endpoint} ({self.container.image})")

    def stop(self, say) -> None:
        if not self.started:
            say("LocalStack container was not running")
            return
        try:
            # SIGTERM first, so that LocalStack removes the Lambda containers it put on the network.
            self.container.get_wrapped_container().stop(timeout=30)
        except ContainerStartException:
            pass
        self.container.stop()
        self.network.remove()
        self.started = False
        say("LocalStack container and its network removed")


# The targets the end-to-end tests run on, each built the way the fixture injects it.
TARGETS = {"ministack": MiniStack, "localstack": ContainerLocalStack}


def _settings(tmp_path_factory, name: str) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp(f"home-{name}"),
        port=free_port(),
        region="us-east-1",
        # A short unique prefix per run: nothing collides with a stack a developer has up.
        name_prefix=f"e2e{uuid.uuid4().hex[:6]}",
    )


def deployed(target: Target, said: list[str], docker_probe=docker_engine_answers):
    """Bring ``target`` up, yield it, take it down: the same pipeline as `tickstack up`/`down`."""
    if getattr(target, "requires_docker", False) and not docker_probe():
        pytest.skip(NO_DOCKER)

    def say(line: str) -> None:
        print(line)
        said.append(line)

    try:
        pipeline.up(target, say)
    except BaseException:
        pipeline.down(target, say)
        raise
    yield target
    pipeline.down(target, say)


@pytest.fixture(scope="session", params=list(TARGETS))
def stack(request, tmp_path_factory):
    name = request.param
    yield from deployed(TARGETS[name](_settings(tmp_path_factory, name)), SAID.setdefault(name, []))


@pytest.fixture(scope="session")
def said(stack) -> list[str]:
    """Every line the stack's bring-up said, e.g. that a service it lacks is switched off."""
    return SAID[stack.name]
