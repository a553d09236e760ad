"""The MiniStack launcher: the same answers from less memory, and each fix only where it still applies."""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import json
import os
import signal
import sys
import threading
import uuid
from pathlib import Path

import botocore.loaders
import botocore.session
import pytest

from ministack import app as ministack_app
from ministack.core import responses
from tests.conftest import free_port
from tickstack.settings import Settings
from tickstack import ministack_launch as launch
from tickstack.targets.ministack import LAUNCHER, MiniStack
from tickstack.waiting import wait_until

# Envelope Content-Types a MiniStack handler emits, which `responses` corrects by the service's protocol.
EMITTED = ("application/json", "application/x-amz-json-1.0", "application/x-amz-json-1.1", "text/xml",
           "application/xml", "application/octet-stream")


def test_the_target_launches_this_module():
    assert importlib.util.find_spec(LAUNCHER).origin == launch.__file__


# --- 1. service models ---------------------------------------------------------------------------------


def test_metadata_is_botocores_for_every_botocore_service(monkeypatch):
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    search_path = launch.botocore_search_path()
    names = botocore.session.Session().get_available_services()
    assert len(names) > 400
    for start in range(0, len(names), 50):  # a fresh session per 50: its loader keeps every model it read
        session = botocore.session.Session()
        for name in names[start:start + 50]:
            assert launch.service_metadata(name, search_path) == session.get_service_model(name).metadata, name
    assert launch.service_metadata("no-such-service", search_path) is None


def test_every_service_ministack_serves_gets_the_same_content_type(monkeypatch):
    names = (set(ministack_app.SERVICE_REGISTRY) | set(ministack_app.SERVICE_NAME_ALIASES)
             | set(responses._BOTOCORE_NAME))

    def content_types():
        return {(name, emitted): (responses.expected_error_content_type(name, emitted),
                                  responses.expected_success_content_type(name, emitted))
                for name in sorted(names) for emitted in EMITTED}

    # GIVEN MiniStack's own lookup, keeping only the last model it loaded (all of them would take 100s of MB)
    full_model = responses._service_model.__wrapped__
    last: dict[str, object] = {}

    def the_last_one(name: str):
        if name not in last:
            last.clear()
            last[name] = full_model(name)
        return last[name]

    monkeypatch.setattr(responses, "_service_model", the_last_one)
    before = content_types()
    last.clear()

    # WHEN the launcher's lookup replaces it
    assert launch.slim_service_models()
    after = content_types()

    # THEN every answer is the same, and the lookup did answer (not None for everything)
    assert after == before
    assert after[("dynamodb", "application/json")] == ("application/x-amz-json-1.0",) * 2
    assert after[("kinesis", "application/json")] == ("application/x-amz-json-1.1",) * 2
    assert after[("states", "application/json")] == ("application/x-amz-json-1.0",) * 2  # via _BOTOCORE_NAME


def test_the_rest_of_a_model_still_loads_for_step_functions(monkeypatch):
    monkeypatch.setattr(responses, "_service_model", responses._service_model)
    launch.slim_service_models()

    model = responses._service_model("dynamodb")

    assert model.metadata["protocol"] == "json"
    assert "PutItem" in model.operation_names
    assert model.operation_model("PutItem").output_shape.name == "PutItemOutput"


def write_model(path: Path, metadata: dict) -> None:
    data = json.dumps({"version": "2.0", "metadata": metadata, "operations": {}, "shapes": {}}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def test_models_are_found_where_botocores_loader_finds_them(tmp_path, monkeypatch):
    # GIVEN models in AWS_DATA_PATH and in ~/.aws/models that override, add to or do not count for botocore's
    extra, home = tmp_path / "extra", tmp_path / "home"
    json_10 = {"protocol": "json", "jsonVersion": "1.0", "apiVersion": "2099-01-01"}
    write_model(extra / "dynamodb" / "2099-01-01" / "service-2.json", {**json_10, "protocol": "rest-json"})
    write_model(extra / "dynamodb" / "2100-01-01" / "paginators-1.json", {})  # no service-2: not a version
    write_model(extra / "kinesis" / "2013-12-02" / "service-2.json", json_10)  # same version: the first path wins
    write_model(extra / "tickstackfake" / "2020-01-01" / "service-2.json.gz", json_10)
    write_model(extra / "tickstackfake" / "2020-01-01" / "service-2.json", {**json_10, "protocol": "rest-xml"})  # wins
    (extra / "tickstackfake" / "2020-01-01" / "service-2.sdk-extras.json").write_text(
        json.dumps({"version": 1.0, "merge": {"metadata": {"serviceId": "Fake"}}}))
    write_model(home / ".aws" / "models" / "sqs" / "2099-01-01" / "service-2.json", {**json_10, "protocol": "query"})
    monkeypatch.setenv("AWS_DATA_PATH", os.pathsep.join([str(tmp_path / "missing"), str(extra)]))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(botocore.loaders.Loader, "CUSTOMER_DATA_PATH", str(home / ".aws" / "models"))

    # WHEN both look them up
    search_path = launch.botocore_search_path()
    session = botocore.session.Session()
    names = ("dynamodb", "kinesis", "tickstackfake", "sqs")
    found = {name: launch.service_metadata(name, search_path) for name in names}

    # THEN they agree, and what was put there is what they found
    assert found == {name: session.get_service_model(name).metadata for name in found}
    assert [found[name]["protocol"] for name in found] == ["rest-json", "json", "rest-xml", "query"]
    assert found["kinesis"]["jsonVersion"] == "1.0"  # botocore's own kinesis model says 1.1
    assert found["tickstackfake"]["serviceId"] == "Fake"


def test_without_service_model_in_responses_the_fix_is_skipped(monkeypatch):
    monkeypatch.delattr(responses, "_service_model")

    assert launch.slim_service_models() is False
    assert not hasattr(responses, "_service_model")


# --- 2. docker; 3. duckdb: applied only to the import they replace ----------------------------------


def test_the_installed_ministack_still_probes_docker_and_duckdb_at_import():
    # If this fails after a MiniStack upgrade, the launcher skips the fix: check whether it is still needed.
    assert launch.probes_at_import("ministack.services.lambda_svc", "docker")
    assert launch.probes_at_import("ministack.services.athena", "duckdb")


@pytest.mark.parametrize(("source", "probes"), [
    ("import os\ntry:\n    import duckdb  # noqa\n\n    ok = True\nexcept ImportError:\n    ok = False\n", True),
    ('try:\n    lib: Any = importlib.import_module("docker")\nexcept ImportError:\n    lib = None\n', True),
    ("def run():\n    import duckdb\n    try:\n        import duckdb\n    except ImportError:\n        pass\n", False),
    ("try:\n    import os\nexcept ImportError:\n    pass\nimport duckdb\n", False),
    ("try:\n    import duckdbx\nexcept ImportError:\n    pass\n", False),
])
def test_a_probe_is_an_import_in_a_top_level_try(source, probes):
    assert launch.imports_in_top_level_try(source.splitlines(keepends=True), "duckdb" if "duck" in source
                                           else "docker") is probes


def test_docker_is_refused_only_with_the_local_executor(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    for name in [name for name in sys.modules if name == "docker" or name.startswith("docker.")]:
        monkeypatch.delitem(sys.modules, name)

    assert launch.block_docker({"LAMBDA_EXECUTOR": "docker"}) is False
    assert launch.block_docker({"LAMBDA_STRICT": "1"}) is False
    importlib.import_module("docker.errors")  # still importable
    for name in [name for name in sys.modules if name == "docker" or name.startswith("docker.")]:
        monkeypatch.delitem(sys.modules, name)

    assert launch.block_docker({}) is True
    with pytest.raises(ModuleNotFoundError, match="LAMBDA_EXECUTOR=local"):
        importlib.import_module("docker.errors")


def test_a_deferred_module_runs_once_on_first_use_whatever_the_threads(tmp_path, monkeypatch):
    # GIVEN a module that records each time it runs, slowly enough for threads to race
    runs = tmp_path / "runs"
    (tmp_path / "slowmodule.py").write_text(
        f"import time\nopen({str(runs)!r}, 'a').write('ran\\n')\ntime.sleep(0.2)\nANSWER = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.find_spec("slowmodule")
    monkeypatch.setitem(sys.modules, "slowmodule", launch.OnFirstUse(spec))

    # WHEN it is imported, it has not run; WHEN eight threads read it at once
    import slowmodule

    assert not runs.exists()
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(slowmodule.ANSWER)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # THEN it ran once, every thread got its value, and the real module now stands in sys.modules
    assert runs.read_text() == "ran\n"
    assert answers == [42] * 8
    assert type(sys.modules["slowmodule"]) is not launch.OnFirstUse
    assert sys.modules["slowmodule"].ANSWER == 42


# --- the three together, in the emulator as tickstack starts it ----------------------------------------

# Put first on the emulator's PYTHONPATH: on SIGUSR1 it writes the names of the modules loaded.
MODULE_LIST = """
import json, os, signal, sys

def _write(*_):
    path = os.environ["TICKSTACK_TEST_MODULE_LIST"]
    with open(path + ".part", "w") as f:
        json.dump(sorted(sys.modules), f)
    os.replace(path + ".part", path)

signal.signal(signal.SIGUSR1, _write)
"""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("launch")
    (folder / "site").mkdir()
    (folder / "site" / "sitecustomize.py").write_text(MODULE_LIST)
    extra_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder / "site"), os.environ.get("PYTHONPATH")])),
                 "TICKSTACK_TEST_MODULE_LIST": str(folder / "modules.json")}
    target = MiniStack(Settings(home=folder / "home", port=free_port(), region="us-east-1", name_prefix="launch"),
                       persist=False, extra_env=extra_env)
    target.start(lambda line: None)
    yield target, folder / "modules.json"
    target.stop(lambda line: None)


def loaded_modules(pid: int, listing: Path) -> set[str]:
    listing.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    wait_until(listing.exists, timeout=10, what="the emulator's module list")
    return set(json.loads(listing.read_text()))


@pytest.mark.integration
def test_the_emulator_loads_docker_never_and_duckdb_when_a_query_runs(emulator):
    target, listing = emulator
    # docker-py and duckdb are both installed, or this would prove nothing
    assert importlib.util.find_spec("docker") and importlib.util.find_spec("duckdb")
    athena = target.client("athena")
    workgroup = f"launch-{uuid.uuid4().hex[:8]}"

    # GIVEN Lambda and Athena loaded in the emulator, as a deploy loads them
    target.client("lambda").list_functions()
    athena.create_work_group(Name=workgroup)
    loaded = loaded_modules(target.pid(), listing)
    assert {"ministack.services.lambda_svc", "ministack.services.athena"} <= loaded
    # THEN neither docker-py (nor the requests it brings) nor DuckDB's engine is loaded
    assert not {name for name in loaded if name.split(".")[0] in ("docker", "requests", "_duckdb")}

    # WHEN a query runs
    target.client("s3").create_bucket(Bucket=workgroup)
    query_id = athena.start_query_execution(QueryString="SELECT 6 * 7 AS answer", WorkGroup=workgroup,
                                            ResultConfiguration={"OutputLocation": f"s3://{workgroup}/results/"},
                                            )["QueryExecutionId"]

    def finished():
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        return status if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    status = wait_until(finished, timeout=30, what=f"Athena query {query_id}")

    # THEN DuckDB ran it: real rows, and its engine is now loaded
    assert status["State"] == "SUCCEEDED", status
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    assert [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows] == [["answer"], ["42"]]
    loaded = loaded_modules(target.pid(), listing)
    assert "_duckdb" in loaded
    assert "docker" not in loaded
