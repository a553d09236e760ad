"""The LocalStack backend without Docker: its HTTP side against a stand-in server, its compose side faked."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import free_port
from tests.unit.test_alerts_parsing import attributes, envelope
from tickstack.cli import app
from tickstack.errors import EmulatorError
from tickstack.settings import Settings
from tickstack.targets import localstack as ls
from tickstack.targets import make_target
from tickstack.targets.localstack import ComposeLocalStack, LocalStack

QUEUE_URL = "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/tickstack-alert-audit"
FREE_TIER_SERVICES = {"kinesis": "running", "lambda": "available", "s3": "running", "sqs": "running"}


def sqs_message(number: int, body: str) -> dict:
    """One message as /_aws/sqs/messages returns it with Accept: application/json (its XML, as a dict)."""
    return {"MessageId": f"m-{number}", "ReceiptHandle": "SQS/BACKDOOR/ACCESS", "MD5OfBody": "0" * 32,
            "Body": body, "Attribute": [{"Name": "SenderId", "Value": "000000000000"}]}


def receive_response(messages: list[dict]) -> dict:
    # Converted from XML: no element for no message, an object for one, a list for several.
    result = None if not messages else {"Message": messages[0] if len(messages) == 1 else messages}
    return {"ReceiveMessageResponse": {"ReceiveMessageResult": result, "ResponseMetadata": {"RequestId": "r"}}}


class FakeLocalStack(ThreadingHTTPServer):
    """Answers LocalStack's health and SQS peek paths on 127.0.0.1, JSON only when asked for it."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answering = True
        self.services = dict(FREE_TIER_SERVICES)
        self.messages: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, dict, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeLocalStack

    def do_GET(self):  # noqa: N802 - the name http.server calls
        path, _, query = self.path.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        self.server.requests.append((path, params, self.headers.get("Accept", "")))
        if not self.server.answering:
            return self._send(503, "text/plain", b"starting")
        if path == ls.HEALTH_PATH:
            document = {"services": self.server.services, "edition": "community", "version": "4.14.0"}
        elif path == ls.SQS_PEEK_PATH:
            document = receive_response(self.server.messages.get(params.get("QueueUrl"), []))
        else:
            return self._send(404, "text/plain", b"no such path")
        if "application/json" not in self.headers.get("Accept", ""):
            return self._send(200, "text/xml", b"<?xml version='1.0' encoding='utf-8'?><ReceiveMessageResponse/>")
        self._send(200, "application/json", json.dumps(document).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    fake = FakeLocalStack()
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()
    thread.join(timeout=5)


@pytest.fixture
def settings(tmp_path, server):
    return Settings(home=tmp_path, port=server.server_address[1], region="us-east-1", name_prefix="tickstack")


@pytest.fixture(autouse=True)
def no_token_no_image(monkeypatch):
    monkeypatch.delenv("LOCALSTACK_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("LOCALSTACK_IMAGE", raising=False)


# --- HTTP: what works on any LocalStack, compose-run or testcontainers-run --------------------------------


class StartedElsewhere(LocalStack):
    """A LocalStack that something else runs: only its HTTP side is used."""

    def start(self, say):
        raise AssertionError("not started here")

    def stop(self, say):
        raise AssertionError("not stopped here")

    def running(self):
        return True


def endpoint_at(url: str) -> LocalStack:
    port = int(url.rsplit(":", 1)[1])
    return StartedElsewhere(Settings(home=Path("/nonexistent"), port=port, region="us-east-1", name_prefix="t"))


def test_peek_asks_for_json_and_returns_every_message_unconsumed(server):
    server.messages[QUEUE_URL] = [sqs_message(1, "first"), sqs_message(2, "second")]
    endpoint = endpoint_at(server.url)
    assert [m["Body"] for m in endpoint.audit_messages(QUEUE_URL)] == ["first", "second"]
    assert [m["Body"] for m in endpoint.audit_messages(QUEUE_URL)] == ["first", "second"]
    path, params, accept = server.requests[-1]
    assert (path, params, accept) == (ls.SQS_PEEK_PATH, {"QueueUrl": QUEUE_URL}, "application/json")


def test_peek_of_one_message_and_of_none(server):
    endpoint = endpoint_at(server.url)
    assert endpoint.audit_messages(QUEUE_URL) == []
    server.messages[QUEUE_URL] = [sqs_message(1, "only")]
    assert [m["Body"] for m in endpoint.audit_messages(QUEUE_URL)] == ["only"]


def test_healthy_only_while_the_health_path_answers(server):
    endpoint = endpoint_at(server.url)
    assert endpoint.healthy()
    server.answering = False
    assert not endpoint.healthy()
    assert not endpoint_at(f"http://127.0.0.1:{free_port()}").healthy()


def test_free_tier_switches_glue_off_and_says_so(server):
    lines: list[str] = []
    assert endpoint_at(server.url).terraform_variables(lines.append)["enable_glue"] == "false"
    assert lines == ["Glue and Athena are not in LocalStack's free tier: the Glue table is switched off; "
                     "set LOCALSTACK_AUTH_TOKEN to switch it on"]


def test_a_token_on_an_image_without_glue_says_which_image_to_set(server, monkeypatch):
    monkeypatch.setenv("LOCALSTACK_AUTH_TOKEN", "ls-test-token")
    lines: list[str] = []
    assert endpoint_at(server.url).terraform_variables(lines.append)["enable_glue"] == "false"
    assert lines == [ls.GLUE_OFF_WITH_TOKEN]
    assert "LOCALSTACK_IMAGE" in lines[0] and "localstack/localstack:latest" in lines[0]


def test_glue_stays_on_where_localstack_offers_glue_and_athena(server):
    server.services.update(glue="available", athena="running")
    lines: list[str] = []
    assert "enable_glue" not in endpoint_at(server.url).terraform_variables(lines.append)
    assert lines == []


def test_tickstack_alerts_reads_the_audit_queue_on_localstack(server, settings, monkeypatch):
    golden = envelope(MessageId="m-1", Timestamp="2026-11-25T17:00:00.000Z")
    death = envelope(MessageId="m-2", Timestamp="2026-11-25T17:00:01.000Z", Subject="AAPL Death Cross: downtrend",
                     MessageAttributes=attributes(symbol="AAPL", signal="DEATH_CROSS", timestamp="2012-12-07T21:00:00Z"))
    server.messages[QUEUE_URL] = [sqs_message(2, death), sqs_message(1, golden), sqs_message(3, "not an alert")]
    state = settings.home / "localstack"
    state.mkdir()
    (state / "outputs.json").write_text(json.dumps({"alert_audit_queue_url": QUEUE_URL}))
    monkeypatch.setenv("TARGET", "localstack")
    monkeypatch.setenv("TICKSTACK_HOME", str(settings.home))
    monkeypatch.setenv("TICKSTACK_PORT", str(settings.port))

    result = CliRunner().invoke(app, ["alerts", "--json"])

    assert result.exit_code == 0, result.output
    assert [(a["sent_at"], a["subject"]) for a in json.loads(result.stdout)] == [
        ("2026-11-25T17:00:00.000Z", "AAPL Golden Cross: uptrend"),
        ("2026-11-25T17:00:01.000Z", "AAPL Death Cross: downtrend")]
    assert isinstance(make_target("localstack", settings), ComposeLocalStack)


# --- docker compose: the subprocess calls faked at the boundary -----------------------------------------


class FakeCompose:
    """Stands in for subprocess.run: records each `docker compose` call and answers per subcommand."""

    def __init__(self, server: FakeLocalStack, running: bool = False):
        self.server = server
        self.running = running
        self.calls: list[dict] = []
        self.returncodes: dict[str, int] = {}
        self.on_up = lambda: setattr(self.server, "answering", True)
        self.images: set[str] = set()
        self.inspected: list[str] = []

    def __call__(self, command, **kwargs):
        if command[:3] == ["docker", "image", "inspect"]:  # the host's images, asked of docker itself
            assert kwargs["stdin"] == subprocess.DEVNULL and kwargs["check"] is False
            self.inspected.append(command[-1])
            return subprocess.CompletedProcess(command, 0 if command[-1] in self.images else 1, stdout="", stderr="")
        prefix = ["docker", "compose", "--file", str(ls.COMPOSE_FILE), "--project-name", "tickstack"]
        assert command[:len(prefix)] == prefix
        assert kwargs["stdin"] == subprocess.DEVNULL and kwargs["check"] is False and kwargs["text"] is True
        args = command[len(prefix):]
        self.calls.append({"args": args, "capture": kwargs["capture_output"], "port": kwargs["env"]["TICKSTACK_PORT"]})
        code = self.returncodes.get(args[0], 0)
        stdout = ""
        if args[0] == "ps":
            stdout = "3f2a9c\n" if self.running else ""
        elif args[0] == "up" and code == 0:
            self.running = True
            self.on_up()
        elif args[0] == "down" and code == 0:
            self.running = False
            self.server.answering = False
        return subprocess.CompletedProcess(command, code, stdout=stdout, stderr="")

    def subcommands(self) -> list[str]:
        return [call["args"][0] for call in self.calls]


@pytest.fixture
def compose(server):
    server.answering = False
    return FakeCompose(server)


def localstack(settings, compose, docker=True) -> ComposeLocalStack:
    return ComposeLocalStack(settings, run=compose, docker_probe=lambda: docker)


def said(action) -> str:
    """What a start() or stop() said, in one line."""
    lines: list[str] = []
    action(lines.append)
    assert len(lines) == 1, lines
    return lines[0]


def test_without_a_docker_engine_start_says_so_and_runs_nothing(settings, compose):
    with pytest.raises(EmulatorError) as error:
        localstack(settings, compose, docker=False).start(print)
    assert str(error.value).startswith("no Docker engine answers")
    assert "TARGET=ministack" in str(error.value)
    assert compose.calls == []


def test_start_is_compose_up_wait_on_the_settings_port(settings, compose):
    line = said(localstack(settings, compose).start)
    assert line == (f"LocalStack started at http://127.0.0.1:{settings.port} "
                    "(localstack/localstack:4.14.0, docker compose project tickstack)")
    up = compose.calls[-1]
    assert up["args"] == ["up", "--detach", "--wait", "--wait-timeout", "180"]
    assert up["capture"] is False  # the pull and start progress shows
    assert {call["port"] for call in compose.calls} == {str(settings.port)}
    assert compose.subcommands() == ["ps", "version", "up"]


def test_start_reuses_our_running_localstack(settings, compose, server):
    compose.running, server.answering = True, True
    assert said(localstack(settings, compose).start).startswith("LocalStack already running at")
    assert "up" not in compose.subcommands()


def test_start_refuses_a_foreign_server_on_the_port(settings, compose, server):
    server.answering = True
    with pytest.raises(EmulatorError, match="something else already answers"):
        said(localstack(settings, compose).start)
    assert "up" not in compose.subcommands()


def test_start_without_compose_plugin_says_what_to_install(settings, compose):
    compose.returncodes["version"] = 1
    with pytest.raises(EmulatorError, match="Docker Compose plugin"):
        said(localstack(settings, compose).start)


def test_failed_up_points_at_the_logs(settings, compose):
    compose.returncodes["up"] = 1
    with pytest.raises(EmulatorError) as error:
        said(localstack(settings, compose).start)
    assert "`docker compose up` failed (exit 1)" in str(error.value)
    assert "docker compose logs localstack" in str(error.value)
    assert "LOCALSTACK_AUTH_TOKEN" not in str(error.value)


def test_failed_up_of_a_newer_image_without_token_names_the_token(settings, compose, monkeypatch):
    monkeypatch.setenv("LOCALSTACK_IMAGE", "localstack/localstack:latest")
    compose.returncodes["up"] = 1
    with pytest.raises(EmulatorError, match=r"exits \(code 55\) without LOCALSTACK_AUTH_TOKEN"):
        said(localstack(settings, compose).start)


def test_up_that_leaves_the_endpoint_silent_is_an_error(settings, compose):
    compose.on_up = lambda: None
    with pytest.raises(EmulatorError, match="does not answer at"):
        said(localstack(settings, compose).start)


def test_running_asks_compose_for_the_running_service(settings, compose):
    assert not localstack(settings, compose).running()
    compose.running = True
    assert localstack(settings, compose).running()
    assert compose.calls[-1]["args"] == ["ps", "--status", "running", "--quiet", "localstack"]


def test_running_is_false_when_docker_cannot_be_run(settings):
    def missing(command, **kwargs):
        raise FileNotFoundError("docker")

    assert not ComposeLocalStack(settings, run=missing, docker_probe=lambda: True).running()


def test_stop_is_compose_down_with_volumes(settings, compose, server):
    compose.running, server.answering = True, True
    assert said(localstack(settings, compose).stop) == "LocalStack stopped (docker compose down -v)"
    assert compose.calls[-1]["args"] == ["down", "--volumes", "--timeout", "30"]
    assert said(localstack(settings, compose).stop) == "LocalStack was not running"


def test_stop_without_a_docker_engine_has_nothing_to_do(settings, compose):
    assert said(localstack(settings, compose, docker=False).stop) == "LocalStack was not running (no Docker engine answers)"
    assert compose.calls == []


def test_failed_down_is_an_error(settings, compose):
    compose.returncodes["down"] = 1
    with pytest.raises(EmulatorError, match="`docker compose down` failed"):
        said(localstack(settings, compose).stop)


def test_tickstack_up_on_localstack_without_docker_fails_with_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ls, "docker_engine_answers", lambda: False)
    monkeypatch.setenv("TARGET", "localstack")
    monkeypatch.setenv("TICKSTACK_HOME", str(tmp_path))
    monkeypatch.setenv("TICKSTACK_PORT", str(free_port()))

    result = CliRunner().invoke(app, ["up"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "error: no Docker engine answers" in lines[0]


def test_compose_file_is_the_project_root_one():
    assert ls.COMPOSE_FILE == Path(__file__).resolve().parents[2] / "docker-compose.yml"


# --- the preflight before Terraform: can this LocalStack run functions? ----------------------------------

RUNTIME_IMAGE = "public.ecr.aws/lambda/python:3.13"


@pytest.fixture
def up_and_able(server, compose):
    """Our compose LocalStack answering, Lambda available, the socket mounted, the runtime image pulled."""
    server.answering = True
    compose.running = True
    compose.images.add(RUNTIME_IMAGE)
    return compose


def prepared(settings, compose) -> list[str]:
    lines: list[str] = []
    localstack(settings, compose).prepare(lines.append)
    return lines


def test_preflight_passes_quietly_when_localstack_can_run_functions(settings, up_and_able):
    assert prepared(settings, up_and_able) == []
    assert up_and_able.calls[-1]["args"] == ["exec", "-T", "localstack", "test", "-S", "/var/run/docker.sock"]
    assert up_and_able.inspected == [RUNTIME_IMAGE]


def test_preflight_says_when_the_runtime_image_is_still_to_be_pulled(settings, up_and_able):
    up_and_able.images.clear()
    (line,) = prepared(settings, up_and_able)
    assert RUNTIME_IMAGE in line and f"`docker pull {RUNTIME_IMAGE}`" in line


def test_the_runtime_image_follows_the_terraform_runtime(settings, up_and_able, monkeypatch):
    # The default comes from terraform/variables.tf; TF_VAR_lambda_runtime overrides it as it does for Terraform.
    assert ls.lambda_runtime() == "python3.13"
    monkeypatch.setenv("TF_VAR_lambda_runtime", "python3.12")
    prepared(settings, up_and_able)
    assert up_and_able.inspected == ["public.ecr.aws/lambda/python:3.12"]


def test_preflight_stops_without_a_lambda_service(settings, up_and_able, server):
    del server.services["lambda"]
    with pytest.raises(EmulatorError, match="runs no Lambda service: add lambda to SERVICES"):
        prepared(settings, up_and_able)
    assert "exec" not in up_and_able.subcommands()


def test_preflight_stops_when_lambda_is_not_available(settings, up_and_able, server):
    server.services["lambda"] = "error"
    with pytest.raises(EmulatorError, match="Lambda service is 'error'"):
        prepared(settings, up_and_able)


def test_preflight_stops_when_the_container_has_no_docker_socket(settings, up_and_able):
    up_and_able.returncodes["exec"] = 1
    with pytest.raises(EmulatorError) as error:
        prepared(settings, up_and_able)
    message = str(error.value)
    assert "no Docker socket at /var/run/docker.sock" in message and "docker-compose.yml" in message
    assert up_and_able.inspected == []


def test_preflight_stops_when_localstack_does_not_answer(settings, compose):
    with pytest.raises(EmulatorError, match="does not answer"):
        prepared(settings, compose)
    assert compose.calls == []


def test_preflight_of_a_localstack_compose_did_not_start_skips_the_socket(settings, up_and_able):
    up_and_able.running = False
    (line,) = prepared(settings, up_and_able)
    assert "not docker compose project tickstack's" in line
    assert "exec" not in up_and_able.subcommands()


def test_deploy_on_localstack_without_the_socket_stops_in_one_line_before_terraform(
        settings, up_and_able, monkeypatch):
    from tickstack.targets import choice

    up_and_able.returncodes["exec"] = 1
    monkeypatch.setitem(choice.TARGETS, "localstack",
                        lambda s: ComposeLocalStack(s, run=up_and_able, docker_probe=lambda: True))
    monkeypatch.setenv("TARGET", "localstack")
    monkeypatch.setenv("TICKSTACK_HOME", str(settings.home))
    monkeypatch.setenv("TICKSTACK_PORT", str(settings.port))

    result = CliRunner().invoke(app, ["deploy"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: LocalStack's container has no Docker socket"), lines
    assert not (settings.home / "localstack" / "root").exists()  # Terraform never ran
