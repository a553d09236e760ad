"""Each target runs Terraform in a directory of its own: emulator state and cloud state never mix."""

from __future__ import annotations

import pytest

from tickstack.deploy.terraform import TERRAFORM_DIR, Terraform
from tickstack.errors import NotDeployed
from tickstack.settings import Settings
from tickstack.targets.aws import Aws, AwsRefused
from tickstack.targets.localstack import ComposeLocalStack
from tickstack.targets.ministack import MiniStack


def say(message: str) -> None:
    pass


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, port=4599, region="eu-west-1", name_prefix="tickstack")


@pytest.fixture
def s3_config(tmp_path):
    path = tmp_path / "s3.hcl"
    path.write_text('bucket = "state"\n')
    return path


def test_the_working_directory_links_every_tf_file_and_adds_only_a_backend(settings):
    root = MiniStack(settings).terraform().prepare_working_dir()

    sources = sorted(p.name for p in TERRAFORM_DIR.glob("*.tf"))
    linked = sorted(p.name for p in root.glob("*.tf") if p.is_symlink())
    assert linked == sources
    assert all((root / name).resolve() == TERRAFORM_DIR / name for name in sources)
    assert sorted(p.name for p in root.glob("*.tf") if not p.is_symlink()) == ["backend.tf"]
    assert 'backend "local" {}' in (root / "backend.tf").read_text()


def test_the_working_directory_starts_from_the_committed_provider_lock(settings):
    terraform = MiniStack(settings).terraform()
    committed = (TERRAFORM_DIR / ".terraform.lock.hcl").read_text()

    root = terraform.prepare_working_dir()
    assert (root / ".terraform.lock.hcl").read_text() == committed
    assert not (root / ".terraform.lock.hcl").is_symlink()

    # The checksums terraform init adds for the platform it runs on stay
    grown = committed.replace("hashes = [", 'hashes = [\n    "h1:darwinarm64checksumaddedbyinit=",')
    (root / ".terraform.lock.hcl").write_text(grown)
    terraform.prepare_working_dir()
    assert (root / ".terraform.lock.hcl").read_text() == grown

    # A lock pinning another version gives way to the committed one
    (root / ".terraform.lock.hcl").write_text(committed.replace('version     = "5.100.0"', 'version     = "5.99.0"'))
    terraform.prepare_working_dir()
    assert (root / ".terraform.lock.hcl").read_text() == committed


def test_stale_and_foreign_tf_files_are_removed(settings):
    terraform = MiniStack(settings).terraform()
    root = terraform.prepare_working_dir()
    (root / "gone.tf").symlink_to(TERRAFORM_DIR / "versions.tf")
    (root / "override.tf").write_text("# not from terraform/\n")

    terraform.prepare_working_dir()

    assert not (root / "gone.tf").exists() and not (root / "override.tf").exists()


def test_aws_with_a_backend_config_gets_an_s3_backend_and_emulators_never_do(settings, s3_config):
    aws = Aws(settings, environment="dev", backend_config=s3_config).terraform()
    emulator = MiniStack(settings).terraform()

    assert 'backend "s3" {}' in (aws.prepare_working_dir() / "backend.tf").read_text()
    assert 'backend "local" {}' in (emulator.prepare_working_dir() / "backend.tf").read_text()
    assert emulator.backend_config is None and emulator.workspace == "default"
    assert aws.working_dir != emulator.working_dir
    assert not aws.working_dir.is_relative_to(emulator.state_dir)
    assert not emulator.working_dir.is_relative_to(aws.state_dir)


def test_aws_local_state_lives_in_one_workspace_per_environment(settings):
    dev = Aws(settings, environment="dev")
    prod = Aws(settings, environment="prod")
    emulator = MiniStack(settings)

    assert dev.terraform().state_path == settings.home / "aws" / "terraform.tfstate.d" / "dev" / "terraform.tfstate"
    assert prod.terraform().state_path == settings.home / "aws" / "terraform.tfstate.d" / "prod" / "terraform.tfstate"
    assert emulator.terraform().state_path == settings.home / "ministack" / "terraform.tfstate"
    assert len({dev.outputs_path, prod.outputs_path, emulator.outputs_path}) == 3


def test_init_points_the_local_backend_into_the_targets_state_dir(settings):
    args = Aws(settings, environment="staging").terraform().init_args()

    assert f"-backend-config=path={settings.home / 'aws' / 'terraform.tfstate'}" in args
    assert f"-backend-config=workspace_dir={settings.home / 'aws' / 'terraform.tfstate.d'}" in args
    # On aws a changed backend must stop Terraform, never be silently re-pointed.
    assert "-reconfigure" not in args


def test_init_passes_the_s3_config_file_on_aws_only(settings, s3_config):
    aws_args = Aws(settings, environment="dev", backend_config=s3_config).terraform().init_args()
    emulator_args = ComposeLocalStack(settings).terraform().init_args()

    assert f"-backend-config={s3_config.resolve()}" in aws_args
    assert not any(str(s3_config) in arg for arg in emulator_args)
    assert "-reconfigure" in emulator_args


def test_migrating_state_copies_it_without_asking(settings, s3_config):
    args = Aws(settings, environment="dev", backend_config=s3_config, migrate_state=True).terraform().init_args()
    assert "-migrate-state" in args and "-force-copy" in args


def test_init_selects_the_environments_workspace(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(Terraform, "run", lambda self, *args, **kw: calls.append(args) or "")

    Aws(settings, environment="prod").terraform().init()
    MiniStack(settings).terraform().init()

    workspace_calls = [c for c in calls if c[0] == "workspace"]
    assert workspace_calls == [("workspace", "select", "-or-create=true", "prod")]


def test_variables_name_the_environment_on_aws_and_the_endpoint_only_on_emulators(settings):
    aws = Aws(settings, environment="staging").terraform_variables(say)
    emulator = MiniStack(settings).terraform_variables(say)

    assert aws["environment"] == "staging" and "endpoint_url" not in aws
    assert emulator["endpoint_url"] == "http://127.0.0.1:4599" and "environment" not in emulator
    assert aws["target"] == "aws" and emulator["target"] == "ministack"


def test_aws_environment_defaults_to_tickstack_env_then_dev(settings, monkeypatch):
    monkeypatch.delenv("TICKSTACK_ENV", raising=False)
    assert Aws(settings).environment == "dev"
    monkeypatch.setenv("TICKSTACK_ENV", "staging")
    assert Aws(settings).environment == "staging"
    # Refused before anything is asked of AWS.
    with pytest.raises(AwsRefused, match="unknown environment"):
        Aws(settings, environment="qa", session_factory=pytest.fail).prepare(say)


def test_aws_keeps_the_callers_credentials_and_drops_endpoint_overrides(settings, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "team")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4566")
    monkeypatch.setenv("TF_WORKSPACE", "prod")

    env = Aws(settings, environment="dev").terraform()._env()

    assert env["AWS_PROFILE"] == "team"
    assert env.get("AWS_ACCESS_KEY_ID") != "test"
    assert not [name for name in env if name.startswith("AWS_ENDPOINT_URL")]
    assert "TF_WORKSPACE" not in env
    assert env["TF_DATA_DIR"] == str(settings.home / "aws" / ".terraform")


def test_emulators_get_dummy_keys_and_never_the_callers_profile(settings, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "team")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-session")

    env = MiniStack(settings).terraform()._env()

    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("test", "test")
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["TF_DATA_DIR"] == str(settings.home / "ministack" / ".terraform")


def test_aws_outputs_are_read_for_the_environment_asked_for(settings, monkeypatch):
    staging = Aws(settings, environment="staging")
    staging.outputs_path.parent.mkdir(parents=True)
    staging.outputs_path.write_text('{"stream_name": "tickstack-staging-ticks"}')

    monkeypatch.setenv("TICKSTACK_ENV", "dev")
    assert not Aws(settings).deployed()
    with pytest.raises(NotDeployed):
        Aws(settings).outputs
    monkeypatch.setenv("TICKSTACK_ENV", "staging")
    assert Aws(settings).outputs == {"stream_name": "tickstack-staging-ticks"}
