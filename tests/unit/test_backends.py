import pytest

from tickstack.backends import BackendError, choose, forget, remember
from tickstack.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, port=4566, region="us-east-1", name_prefix="tickstack")


def test_asked_for_backend_wins(settings, monkeypatch):
    monkeypatch.delenv("BACKEND", raising=False)
    assert choose(settings, "aws", docker_probe=lambda: True).backend == "aws"


def test_backend_from_environment(settings, monkeypatch):
    monkeypatch.setenv("BACKEND", "ministack")
    choice = choose(settings, docker_probe=lambda: True)
    assert (choice.backend, choice.reason) == ("ministack", "asked for")


def test_unknown_backend_is_refused(settings, monkeypatch):
    monkeypatch.setenv("BACKEND", "moto")
    with pytest.raises(BackendError, match="ministack, localstack, aws"):
        choose(settings)


def test_without_docker_the_embedded_emulator_is_chosen_and_says_why(settings, monkeypatch):
    monkeypatch.delenv("BACKEND", raising=False)
    choice = choose(settings, docker_probe=lambda: False)
    assert choice.backend == "ministack"
    assert "no Docker engine" in choice.reason


def test_with_docker_localstack_is_chosen(settings, monkeypatch):
    monkeypatch.delenv("BACKEND", raising=False)
    assert choose(settings, docker_probe=lambda: True).backend == "localstack"


def test_the_stack_already_up_is_used_until_it_is_taken_down(settings, monkeypatch):
    monkeypatch.delenv("BACKEND", raising=False)
    remember(settings, "ministack")
    assert choose(settings, docker_probe=lambda: True) .backend == "ministack"
    forget(settings, "ministack")
    assert choose(settings, docker_probe=lambda: True).backend == "localstack"
