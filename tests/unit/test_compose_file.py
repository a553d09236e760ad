"""docker-compose.yml, read as Compose reads it: pinned token-free image, loopback port, socket, health check."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import ROOT
from tickstack.targets import localstack as ls

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICE = COMPOSE["services"]["localstack"]
ENVIRONMENT = dict(item.split("=", 1) for item in SERVICE["environment"])


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's `${NAME:-default}` substitution: the default when NAME is unset or empty."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: environ.get(m.group(1)) or m.group(2), value)


def test_one_service_in_a_named_project():
    assert COMPOSE["name"] == ls.COMPOSE_PROJECT
    assert list(COMPOSE["services"]) == ["localstack"]


def test_image_is_the_last_token_free_release_unless_overridden():
    assert interpolate(SERVICE["image"], {}) == ls.DEFAULT_IMAGE == "localstack/localstack:4.14.0"
    assert re.fullmatch(r"localstack/localstack:\d+\.\d+\.\d+", ls.DEFAULT_IMAGE)
    assert interpolate(SERVICE["image"], {"LOCALSTACK_IMAGE": "localstack/localstack:latest"}) == (
        "localstack/localstack:latest")


def test_gateway_is_published_on_loopback_only_at_tickstack_port():
    assert [interpolate(p, {}) for p in SERVICE["ports"]] == ["127.0.0.1:4566:4566"]
    assert [interpolate(p, {"TICKSTACK_PORT": "4610"}) for p in SERVICE["ports"]] == ["127.0.0.1:4610:4566"]


@pytest.mark.parametrize("environ, passed", [({}, ""), ({"LOCALSTACK_AUTH_TOKEN": "ls-abc"}, "ls-abc")])
def test_auth_token_is_passed_through_from_the_environment(environ, passed):
    assert interpolate(ENVIRONMENT["LOCALSTACK_AUTH_TOKEN"], environ) == passed


def test_docker_socket_is_mounted_for_lambda():
    assert "/var/run/docker.sock:/var/run/docker.sock" in SERVICE["volumes"]


def test_lambda_containers_join_the_named_network_localstack_is_on():
    (network_key,) = SERVICE["networks"]
    assert ENVIRONMENT["LAMBDA_DOCKER_NETWORK"] == COMPOSE["networks"][network_key]["name"]


def test_services_are_what_the_pipeline_uses_and_the_same_as_tickstack_uses():
    services = ENVIRONMENT["SERVICES"].split(",")
    assert services == list(ls.SERVICES)
    # Every endpoint the Terraform provider is pointed at, plus the DynamoDB stream the trend function reads.
    providers = (ROOT / "terraform" / "providers.tf").read_text()
    endpoints = set(re.findall(r"^\s*(\w+)\s*=\s*endpoints\.value", providers, re.MULTILINE))
    assert set(services) == endpoints | {"dynamodbstreams"}


def test_mappings_poll_every_second():
    assert ENVIRONMENT["LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC"] == ls.POLL_INTERVAL_SEC == "1"


def test_health_check_asks_localstack_health_inside_the_container():
    check = SERVICE["healthcheck"]
    assert check["test"][0] == "CMD"
    assert check["test"][-1] == f"http://127.0.0.1:4566{ls.HEALTH_PATH}"
    seconds = int(check["interval"].rstrip("s")) * check["retries"] + int(check["start_period"].rstrip("s"))
    assert 60 <= seconds <= ls.ComposeLocalStack.start.__defaults__[0]
