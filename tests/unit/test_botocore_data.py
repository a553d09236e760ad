"""The Lambda package's trimmed botocore endpoint data (tickstack/deploy/package.py).

On the emulators Terraform sets AWS_DATA_PATH so that the functions' botocore reads an
endpoints.json holding only the services they call instead of its own 1.25 MB file. These
tests hold that file to the full one (every partition's own fields, each kept service's
entries, the endpoint each client resolves in every region of every partition), hold the
functions to making clients for those services only, and tie the path Terraform gives to
the one the build writes.
"""

from __future__ import annotations

import ast
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest

from stock_pipeline import adapters
from tickstack.deploy import package
from tests.conftest import ROOT

SERVICES = package.CLIENT_SERVICES
ENDPOINTS = f"{package.BOTOCORE_DATA_PATH}/endpoints.json"

# What makes a boto3 client or session: boto3.client, boto3.resource, a Session, create_client.
CLIENT_FACTORIES = {"client", "resource", "Session", "create_client"}
# The Powertools the package may use, each read for the boto3 clients it makes: none. Logger and
# Metrics write to stdout; the batch utility, the data classes and the typing only read the event.
# The Tracer (and its X-Ray SDK) is made only where traces are recorded, on AWS, where no
# AWS_DATA_PATH is set (stock_pipeline/tracing.py). A Powertools utility not listed here
# (Parameters, Idempotency, Feature Flags, Streaming, ...) may make clients of its own: add its
# services' data to the package before adding it here.
POWERTOOLS_WITHOUT_CLIENTS = (
    "aws_lambda_powertools.Logger",
    "aws_lambda_powertools.Metrics",
    "aws_lambda_powertools.Tracer",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.shared.constants",
    "aws_lambda_powertools.shared.functions",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event",
    "aws_lambda_powertools.utilities.data_classes.kinesis_stream_event",
    "aws_lambda_powertools.utilities.typing",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "stock_pipeline.zip"
    package.build(out)
    return out


@pytest.fixture(scope="module")
def full() -> dict[str, Any]:
    return json.loads(package.botocore_endpoints_file().read_bytes())


@pytest.fixture(scope="module")
def trimmed(built: Path) -> dict[str, Any]:
    with zipfile.ZipFile(built) as zf:
        return json.loads(zf.read(ENDPOINTS))


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in mapping.items() if name != key}


def test_every_partition_keeps_its_own_fields_and_each_kept_service_its_entries(
    full: dict[str, Any], trimmed: dict[str, Any]
) -> None:
    assert without(trimmed, "partitions") == without(full, "partitions")
    assert [p["partition"] for p in trimmed["partitions"]] == [p["partition"] for p in full["partitions"]]
    for kept, original in zip(trimmed["partitions"], full["partitions"]):
        # partition, partitionName, dnsSuffix, regions, regionRegex, defaults, ...: all as they were
        assert without(kept, "services") == without(original, "services")
        assert kept["services"] == {name: original["services"][name] for name in SERVICES}


def test_a_service_botocore_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="no-such-service"):
        package.trimmed_endpoints(["dynamodb", "no-such-service"])


def resolved(session: boto3.Session, regions: list[str]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """What each client of the kept services resolves in each region: endpoint, region, partition, signer."""
    found = {}
    for service in SERVICES:
        for region in regions:
            meta = session.client(service, region_name=region).meta
            found[service, region] = (meta.endpoint_url, meta.region_name, meta.partition, meta.config.signature_version)
    return found


def test_clients_resolve_the_same_endpoints_with_the_trimmed_data_in_every_region(
    built: Path, full: dict[str, Any], no_aws: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN no endpoint override (no_aws removed every AWS_ variable, AWS_ENDPOINT_URL and
    # AWS_ENDPOINT_URL_<SERVICE> among them), and the package unpacked as a function's code root
    # and working directory, as on the emulators
    assert not [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]
    with zipfile.ZipFile(built) as zf:
        zf.extract(ENDPOINTS, tmp_path)
    monkeypatch.chdir(tmp_path)
    keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    with_full_data = boto3.Session(**keys)
    # WHEN botocore is given the package's data path as Terraform gives it on the emulators
    monkeypatch.setenv("AWS_DATA_PATH", package.BOTOCORE_DATA_PATH)
    with_trimmed_data = boto3.Session(**keys)

    # THEN each session read the file it was meant to (the loader names it without its extension)
    _, full_path = with_full_data._loader.load_data_with_path("endpoints")
    _, trimmed_path = with_trimmed_data._loader.load_data_with_path("endpoints")
    assert Path(full_path) == package.botocore_endpoints_file().with_suffix("")
    assert Path(trimmed_path).resolve() == (tmp_path / ENDPOINTS).with_suffix("").resolve()
    # ... and every client resolves alike in every region of every partition
    regions = [region for partition in full["partitions"] for region in partition["regions"]]
    assert len(regions) == len(set(regions)) > 30
    assert resolved(with_trimmed_data, regions) == resolved(with_full_data, regions)


class _ClientCalls(ast.NodeVisitor):
    """Each call in a module that could make a client: (module, enclosing scope, callee, first argument)."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.scope: list[str] = []
        self.found: list[tuple[str, str, str, str | None]] = []

    def _scoped(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _scoped

    def visit_Call(self, node: ast.Call) -> None:
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if callee in CLIENT_FACTORIES:
            first = ast.unparse(node.args[0]) if node.args else None
            self.found.append((self.module, ".".join(self.scope), ast.unparse(node.func), first))
        self.generic_visit(node)


def package_modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(), str(path)) for path in package.package_files()}


def test_every_client_is_made_by_an_adapter_for_a_service_the_package_carries() -> None:
    # GIVEN every call in the package that could make a boto3 client or session
    calls = []
    for module, tree in package_modules().items():
        visitor = _ClientCalls(module)
        visitor.visit(tree)
        calls += visitor.found

    # THEN there is one: the adapters' lazy client, for its class's service
    assert calls == [("adapters", "_Adapter.client", "boto3.client", "self.service")]
    # ... and the services of the adapters are those the build carries the data of
    classes, adapter_services = [adapters._Adapter], set()
    while classes:
        for subclass in classes.pop().__subclasses__():
            classes.append(subclass)
            adapter_services.add(subclass.service)
    assert adapter_services == set(SERVICES)


def test_the_package_uses_only_powertools_that_make_no_client() -> None:
    imported = set()
    for tree in package_modules().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aws_lambda_powertools"):
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name.startswith("aws_lambda_powertools")}

    unchecked = {name for name in imported
                 if not any(name == known or name.startswith(f"{known}.") for known in POWERTOOLS_WITHOUT_CLIENTS)}
    assert imported and not unchecked


def test_the_package_carries_the_trimmed_data_and_builds_to_the_same_bytes(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    package.build(again)

    assert again.read_bytes() == built.read_bytes()
    with zipfile.ZipFile(built) as zf:
        assert zf.read(ENDPOINTS) == package.trimmed_endpoints(SERVICES)
        assert zf.getinfo(ENDPOINTS).date_time == package.FIXED_DATE


def test_terraform_points_the_emulators_at_the_path_the_build_writes() -> None:
    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
    with (ROOT / "terraform" / "compute.tf").open() as file:
        (compute_locals,) = [block for block in hcl2.load(file, serialization_options=options)["locals"]
                             if "botocore_data_path" in block]
    assert compute_locals["botocore_data_path"] == package.BOTOCORE_DATA_PATH
