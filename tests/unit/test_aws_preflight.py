"""Before Terraform touches an AWS account: credentials, region, endpoints and a confirmation."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import Stubber

from tickstack.targets.aws import AwsRefused, check_backend_config, check_environment, confirm, preflight, resolve_region

IDENTITY = {"UserId": "AIDEXAMPLE", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/deployer"}


class StubbedSession(boto3.session.Session):
    """A real session (real credential chain and region) whose STS answers from a stub."""

    def __init__(self, identity=None, error_code=None, **kwargs):
        super().__init__(**kwargs)
        self.identity = identity
        self.error_code = error_code
        self.sts_regions = []

    def client(self, service_name, region_name=None, **kwargs):
        client = super().client(service_name, region_name=region_name, **kwargs)
        self.sts_regions.append(region_name)
        stubber = Stubber(client)
        if self.error_code:
            stubber.add_client_error("get_caller_identity", service_error_code=self.error_code,
                                     service_message="The security token included in the request is invalid.")
        else:
            stubber.add_response("get_caller_identity", self.identity)
        stubber.activate()
        return client


def test_no_credentials_is_refused_in_one_line(no_aws):
    # GIVEN no credentials anywhere in the chain
    # WHEN the aws target is checked
    with pytest.raises(AwsRefused) as refused:
        preflight(lambda: StubbedSession(IDENTITY))
    # THEN one line says what is missing and that nothing ran
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("no AWS credentials found")
    assert "nothing was run" in message


def test_credentials_from_the_environment_and_region_are_accepted(no_aws, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    session = StubbedSession(IDENTITY)

    account = preflight(lambda: session)

    assert (account.account_id, account.caller_arn, account.region) == (
        "123456789012", "arn:aws:iam::123456789012:user/deployer", "eu-west-1")
    assert session.sts_regions == ["eu-west-1"]
    assert "123456789012" in account.describe()


def test_profile_supplies_credentials_and_region(no_aws, monkeypatch):
    (no_aws / "config").write_text("[profile team]\nregion = ap-southeast-2\n")
    (no_aws / "credentials").write_text("[team]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(no_aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(no_aws / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "team")

    account = preflight(lambda: StubbedSession(IDENTITY))

    assert account.region == "ap-southeast-2"


def test_region_order_is_aws_region_then_default_region_then_profile(no_aws):
    session = boto3.session.Session(region_name="sa-east-1")
    assert resolve_region(session, {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}) == "eu-west-1"
    assert resolve_region(session, {"AWS_DEFAULT_REGION": "us-west-2"}) == "us-west-2"
    assert resolve_region(session, {}) == "sa-east-1"


def test_missing_region_is_refused(no_aws, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    with pytest.raises(AwsRefused, match="^no AWS region"):
        preflight(lambda: StubbedSession(IDENTITY))


def test_credentials_sts_rejects_are_refused(no_aws, monkeypatch):
    # GIVEN the emulator's dummy keys left in the shell
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(AwsRefused, match="credentials were found but do not work") as refused:
        preflight(lambda: StubbedSession(error_code="InvalidClientTokenId"))
    assert "\n" not in str(refused.value)


def test_unknown_profile_is_refused(no_aws, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    with pytest.raises(AwsRefused, match="cannot read the AWS configuration"):
        preflight(lambda: StubbedSession(IDENTITY))


def test_an_endpoint_override_left_from_emulator_work_is_refused(no_aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    with pytest.raises(AwsRefused, match="AWS_ENDPOINT_URL is set"):
        preflight(lambda: StubbedSession(IDENTITY))


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_three_environments_are_accepted(environment):
    assert check_environment(environment) == environment


def test_another_environment_is_refused():
    with pytest.raises(AwsRefused, match="ENV must be one of dev, staging, prod"):
        check_environment("qa")


def test_a_missing_backend_config_file_is_refused(tmp_path):
    assert check_backend_config(None) is None
    with pytest.raises(AwsRefused, match="backend-s3.hcl.example"):
        check_backend_config(tmp_path / "s3.hcl")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _never_asked(prompt):
    raise AssertionError("nobody should have been asked")


def test_auto_approve_asks_nobody():
    confirm("Apply?", auto_approve=True, stdin=io.StringIO(), ask=_never_asked)


def test_without_a_terminal_it_refuses_instead_of_waiting():
    with pytest.raises(AwsRefused, match="AUTO_APPROVE=1"):
        confirm("Apply?", auto_approve=False, stdin=io.StringIO(), ask=_never_asked)


def test_a_typed_yes_goes_ahead():
    prompts = []
    confirm("Apply?", auto_approve=False, stdin=Terminal(), ask=lambda p: prompts.append(p) or "yes")
    assert prompts == ["Apply? Only 'yes' goes ahead: "]


@pytest.mark.parametrize("answer", ["", "y", "no", "YES please"])
def test_anything_but_yes_changes_nothing(answer):
    with pytest.raises(AwsRefused, match="not confirmed"):
        confirm("Apply?", auto_approve=False, stdin=Terminal(), ask=lambda p: answer)


def test_end_of_input_is_no():
    def eof(prompt):
        raise EOFError

    with pytest.raises(AwsRefused, match="not confirmed"):
        confirm("Apply?", auto_approve=False, stdin=Terminal(), ask=eof)
