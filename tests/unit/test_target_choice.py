import pytest

from tickstack.errors import TargetError
from tickstack.settings import Settings
from tickstack.targets import choose, forget, make_target, remember
from tickstack.targets.aws import Aws
from tickstack.targets.localstack import ComposeLocalStack
from tickstack.targets.ministack import MiniStack


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("TARGET", raising=False)
    monkeypatch.delenv("BACKEND", raising=False)
    return Settings(home=tmp_path, port=4566, region="us-east-1", name_prefix="tickstack")


def test_asked_for_target_wins(settings):
    assert isinstance(choose(settings, "aws", docker_probe=lambda: True).target, Aws)


@pytest.mark.parametrize("variable", ["TARGET", "BACKEND"])
def test_target_from_environment_under_either_name(settings, monkeypatch, variable):
    monkeypatch.setenv(variable, "ministack")
    choice = choose(settings, docker_probe=lambda: True)
    assert (type(choice.target), choice.reason) == (MiniStack, "asked for")


def test_unknown_target_is_refused(settings, monkeypatch):
    monkeypatch.setenv("TARGET", "moto")
    with pytest.raises(TargetError, match="ministack, localstack, aws"):
        choose(settings)


def test_without_docker_the_embedded_emulator_is_chosen_and_says_why(settings):
    choice = choose(settings, docker_probe=lambda: False)
    assert isinstance(choice.target, MiniStack)
    assert "no Docker engine" in choice.reason


def test_with_docker_localstack_is_chosen(settings):
    assert isinstance(choose(settings, docker_probe=lambda: True).target, ComposeLocalStack)


def test_the_stack_already_up_is_used_until_it_is_taken_down(settings):
    remember(make_target("ministack", settings))
    assert isinstance(choose(settings, docker_probe=lambda: True).target, MiniStack)
    forget(make_target("ministack", settings))
    assert isinstance(choose(settings, docker_probe=lambda: True).target, ComposeLocalStack)


def test_each_target_keeps_its_files_apart(settings):
    homes = {make_target(name, settings).home for name in ("ministack", "localstack", "aws")}
    assert homes == {settings.home / "ministack", settings.home / "localstack", settings.home / "aws"}


def test_no_module_outside_targets_compares_a_target_name():
    """A fourth target is a class in tickstack/targets/, never a branch elsewhere."""
    import re
    from pathlib import Path

    import tickstack

    root = Path(tickstack.__file__).parent
    compared = re.compile(r"""(==|!=|\bin\b)\s*\(?\s*["'](ministack|localstack|aws)["']|["'](ministack|localstack|aws)["']\s*(==|!=)""")
    offenders = [f"{path.relative_to(root)}:{number}" for path in root.rglob("*.py") if "targets" not in path.parts
                 for number, line in enumerate(path.read_text().splitlines(), 1) if compared.search(line)]
    assert offenders == []
