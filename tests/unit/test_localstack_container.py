"""The e2e LocalStack container and fixture, built and driven without a Docker engine."""

from __future__ import annotations

import pytest
import testcontainers.community.localstack as tc_localstack
import testcontainers.core.container as tc_container
from testcontainers.core.exceptions import ContainerStartException

from tests.e2e import conftest as e2e
from tests.unit.test_compose_file import ENVIRONMENT, SERVICE, interpolate
from tickstack.deploy import pipeline
from tickstack.settings import Settings


class NoDockerClient:
    """Stands in for testcontainers' Docker client, which would otherwise connect on construction."""

    def __init__(self, **kwargs):
        pass


class FakeNetwork:
    def __init__(self, name="tickstack-e2e-net"):
        self.name = name
        self.events: list[str] = []

    def create(self):
        self.events.append("network created")
        return self

    def remove(self):
        self.events.append("network removed")


@pytest.fixture(autouse=True)
def no_docker(monkeypatch):
    monkeypatch.setattr(tc_container, "DockerClient", NoDockerClient)
    monkeypatch.delenv("LOCALSTACK_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("LOCALSTACK_IMAGE", raising=False)


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, port=45123, region="us-east-1", name_prefix="e2eabc123")


def test_container_is_configured_as_compose_runs_localstack(settings):
    network = FakeNetwork()
    container = e2e.PipelineLocalStackContainer(settings, network)

    assert container.image == "localstack/localstack:4.14.0" == interpolate(SERVICE["image"], {})
    assert container.env["SERVICES"] == ENVIRONMENT["SERVICES"]
    assert container.env["LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC"] == (
        ENVIRONMENT["LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC"])
    assert container.env["LAMBDA_DOCKER_NETWORK"] == network.name
    assert container._network is network
    assert container.env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "LOCALSTACK_AUTH_TOKEN" not in container.env
    assert container.volumes == {"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}}
    assert container.ports == {"4566": ("127.0.0.1", 45123)}


def test_token_and_image_come_from_the_environment(settings, monkeypatch):
    monkeypatch.setenv("LOCALSTACK_AUTH_TOKEN", "ls-abc")
    monkeypatch.setenv("LOCALSTACK_IMAGE", "localstack/localstack:latest")
    container = e2e.PipelineLocalStackContainer(settings, FakeNetwork())
    assert container.env["LOCALSTACK_AUTH_TOKEN"] == "ls-abc"
    assert container.image == "localstack/localstack:latest"


def test_start_returns_only_once_localstack_logs_ready(settings, monkeypatch):
    events: list[str] = []
    monkeypatch.setattr(tc_container.DockerContainer, "start", lambda self: events.append("container started"))
    monkeypatch.setattr(tc_localstack, "wait_for_logs",
                        lambda container, pattern, timeout: events.append(f"waited for {pattern!r}"))
    e2e.PipelineLocalStackContainer(settings, FakeNetwork()).start()
    assert events == ["container started", "waited for 'Ready\\\\.\\\\n'"]


class FakeWrapped:
    def __init__(self, events):
        self.events = events

    def stop(self, timeout):
        self.events.append(f"SIGTERM, {timeout} s to exit")


class FakeContainer:
    image = "localstack/localstack:4.14.0"

    def __init__(self, settings, network, fail_start=False, created=True):
        self.settings, self.network, self.fail_start, self.created = settings, network, fail_start, created
        self.events = network.events

    def start(self):
        if self.fail_start:
            raise TimeoutError("LocalStack did not log Ready.")
        self.events.append("container started")
        return self

    def get_wrapped_container(self):
        if not self.created:
            raise ContainerStartException("Container is not started")
        return FakeWrapped(self.events)

    def stop(self):
        self.events.append("container removed")


def emulator(settings, **container_options):
    return e2e.ContainerLocalStack(
        settings, network_factory=FakeNetwork,
        container_factory=lambda s, network: FakeContainer(s, network, **container_options))


def test_container_emulator_starts_and_stops_network_and_container(settings):
    localstack = emulator(settings)
    assert not localstack.running() and localstack.container is None  # nothing asked of Docker yet
    said: list[str] = []
    localstack.start(said.append)
    assert localstack.container.network is localstack.network
    assert localstack.running()
    localstack.stop(said.append)
    assert not localstack.running()
    localstack.stop(said.append)
    assert said == ["LocalStack container started at http://127.0.0.1:45123 (localstack/localstack:4.14.0)",
                    "LocalStack container and its network removed", "LocalStack container was not running"]
    assert localstack.network.events == ["network created", "container started", "SIGTERM, 30 s to exit",
                                         "container removed", "network removed"]


def test_a_container_that_never_got_created_is_still_cleaned_up(settings):
    localstack = emulator(settings, created=False)
    localstack.start(print)
    localstack.stop(print)
    assert localstack.network.events[-2:] == ["container removed", "network removed"]


def test_a_failed_start_removes_what_it_created(settings):
    localstack = emulator(settings, fail_start=True)
    with pytest.raises(TimeoutError):
        localstack.start(print)
    assert localstack.network.events == ["network created", "container removed", "network removed"]
    assert not localstack.running()


def test_without_docker_the_localstack_case_is_skipped_with_the_reason(settings):
    with pytest.raises(pytest.skip.Exception, match="^no Docker engine answers$"):
        next(e2e.deployed(emulator(settings), [], docker_probe=lambda: False))


@pytest.fixture
def lifecycle_calls(monkeypatch):
    calls: list[str] = []

    def up(target, say):
        calls.append(f"up {target.name}")
        target.start(say)

    def down(target, say):
        calls.append(f"down {target.name}")
        target.stop(say)

    monkeypatch.setattr(pipeline, "up", up)
    monkeypatch.setattr(pipeline, "down", down)
    return calls


def test_with_docker_the_fixture_runs_the_shared_lifecycle_on_the_container(settings, lifecycle_calls):
    said: list[str] = []
    stacks = e2e.deployed(emulator(settings), said, docker_probe=lambda: True)
    stack = next(stacks)
    assert stack.name == "localstack" and isinstance(stack, e2e.ContainerLocalStack)
    assert stack.settings is settings and stack.endpoint == "http://127.0.0.1:45123"
    with pytest.raises(StopIteration):
        next(stacks)
    assert lifecycle_calls == ["up localstack", "down localstack"]
    assert said == ["LocalStack container started at http://127.0.0.1:45123 (localstack/localstack:4.14.0)",
                    "LocalStack container and its network removed"]


def test_a_failed_bring_up_still_takes_the_stack_down(settings, lifecycle_calls, monkeypatch):
    def failing_up(target, say):
        lifecycle_calls.append("up localstack")
        target.start(say)
        raise RuntimeError("terraform apply failed")

    monkeypatch.setattr(pipeline, "up", failing_up)
    with pytest.raises(RuntimeError, match="terraform apply failed"):
        next(e2e.deployed(emulator(settings), [], docker_probe=lambda: True))
    assert lifecycle_calls == ["up localstack", "down localstack"]
