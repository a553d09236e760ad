"""MiniStack as its `ministack` console script runs it, minus three things it loads and never uses.

    python -P -m tickstack.ministack_launch [ministack's arguments]

`MiniStack.start` (tickstack.targets.ministack) runs this instead of the console script. After a
`pipeline.up` deploy the emulator held 102 MiB run by the console script and 56 MiB with the three
fixes below. It sits outside `tickstack.targets` because `-m` imports a module's packages first,
and that one imports boto3 (9 MiB more in the emulator); nothing here imports tickstack.

1. Service models. To pick the Content-Type of a response, `ministack.core.responses._service_model`
   loads the whole botocore model of the service (Glue 5.9 MB of JSON, S3 3.4, IAM 2.3, ...: about
   27 MiB kept, plus about 6.5 MiB to import botocore), and that caller reads only its `metadata`
   ("protocol", "jsonVersion"). Here the metadata is read from the same data files, found as
   botocore's loader finds them (`AWS_DATA_PATH`, then `~/.aws/models`, then botocore's own data;
   the newest API version that has a `service-2` model; its `sdk-extras` merged), and only that
   small dict is cached. A `data_path` set in an AWS config file is not read: that would take
   botocore's whole profile resolution. Step Functions imports `_service_model` too and reads the
   operations: any attribute other than `metadata` loads the full model, once, as before.
2. docker. `ministack.services.lambda_svc` imports docker-py (and requests) whenever it is
   installed, about 8.7 MiB; it is in the venv only because testcontainers needs it. With
   `LAMBDA_EXECUTOR=local` (MiniStack's default, and what tickstack sets) and no `LAMBDA_STRICT`,
   tickstack's Python zip functions run in local workers and never touch Docker, so the emulator
   process is refused docker-py, as on a machine without it. Container features of other services
   (ECS tasks, RDS engines, ...), which tickstack does not use, then find no Docker either, and
   switching the executor to docker at run time (`/_ministack/config`) would not work.
3. duckdb. `ministack.services.athena` imports duckdb when loaded only to learn that it is installed
   (about 15 MiB), and Terraform's Athena workgroup loads that module. Here an installed duckdb is
   represented by a stand-in that imports the real one when first used: Athena still reports DuckDB
   available and runs real SQL on it.

Behaviour is otherwise unchanged. Each fix is applied only where this MiniStack still has what it
replaces (`responses._service_model`; an import of docker or duckdb in a top-level `try:` of
lambda_svc or athena), and skipped otherwise. `-P` keeps the working directory off `sys.path`, as
it is for the console script. `ministack -d` starts a plain hypercorn child without these fixes;
tickstack never uses it.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import importlib.abc
import importlib.util
import json
import os
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable, Mapping, Sequence


# --- 1. service models: their metadata only ---------------------------------------------------------


def botocore_search_path(environ: Mapping[str, str] = os.environ) -> list[str] | None:
    """Where botocore's loader looks for models, in its order; None without botocore."""
    spec = importlib.util.find_spec("botocore")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    extra = environ.get("AWS_DATA_PATH")
    paths = [os.path.expanduser(os.path.expandvars(p)) for p in extra.split(os.pathsep)] if extra is not None else []
    return [*paths, os.path.join(os.path.expanduser("~"), ".aws", "models"),
            os.path.join(spec.submodule_search_locations[0], "data")]


def _model_file(search_path: Sequence[str], name: str) -> str | None:
    """The file botocore's loader reads for ``name`` (``service/version/type``): first path, .json first."""
    for root in search_path:
        for suffix in (".json", ".json.gz"):
            if os.path.isfile(path := os.path.join(root, name + suffix)):
                return path
    return None


def _read_json(path: str) -> dict:
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def service_metadata(service: str, search_path: Sequence[str]) -> dict | None:
    """``metadata`` of the botocore model of ``service`` (a botocore name), or None when there is none."""
    versions = {
        version
        for root in search_path if os.path.isdir(folder := os.path.join(root, service))
        for version in os.listdir(folder) if _model_file([root], f"{service}/{version}/service-2")
    }
    if not versions:
        return None
    latest = max(versions)
    metadata = dict(_read_json(_model_file(search_path, f"{service}/{latest}/service-2")).get("metadata", {}))
    extras = _model_file(search_path, f"{service}/{latest}/service-2.sdk-extras")
    if extras:
        metadata.update(_read_json(extras).get("merge", {}).get("metadata", {}))
    return metadata


class ServiceModelView:
    """A botocore ``ServiceModel``'s ``metadata``, read alone; any other attribute loads the full model."""

    def __init__(self, metadata: dict, full_model: Callable[[], object]) -> None:
        self.metadata = metadata
        self._full_model = full_model

    def __getattr__(self, name: str):
        return getattr(self._full_model(), name)


def slim_service_models(search_path: Sequence[str] | None = None) -> bool:
    """Fix 1: make ``responses._service_model`` read a model's metadata only. False when not applied."""
    from ministack.core import responses

    full = getattr(responses, "_service_model", None)
    names = getattr(responses, "_BOTOCORE_NAME", None)
    search_path = botocore_search_path() if search_path is None else search_path
    if full is None or names is None or search_path is None:
        return False

    @functools.lru_cache(maxsize=None)
    def _service_model(service: str) -> ServiceModelView | None:
        metadata = service_metadata(names.get(service, service), search_path)
        return None if metadata is None else ServiceModelView(metadata, lambda: full(service))

    responses._service_model = _service_model
    return True


# --- 2. docker: refused with the local executor ------------------------------------------------------


class Refuse(importlib.abc.MetaPathFinder):
    """Makes ``import package`` (and its submodules) fail as if the package were not installed."""

    def __init__(self, package: str, reason: str) -> None:
        self.package, self.reason = package, reason

    def find_spec(self, name, path=None, target=None):
        if name == self.package or name.startswith(self.package + "."):
            raise ModuleNotFoundError(f"No module named {name!r} ({self.reason})", name=name)
        return None


def block_docker(environ: Mapping[str, str] = os.environ) -> bool:
    """Fix 2: refuse docker-py in this process when the Lambda executor is local. False when not applied."""
    # Read as ministack.services.lambda_svc reads them.
    local = environ.get("LAMBDA_EXECUTOR", "local").lower() == "local"
    strict = environ.get("LAMBDA_STRICT", "0").lower() in ("1", "true", "yes")
    if not local or strict or "docker" in sys.modules:
        return False
    if not probes_at_import("ministack.services.lambda_svc", "docker"):
        return False
    sys.meta_path.insert(0, Refuse("docker", "refused by tickstack.ministack_launch: LAMBDA_EXECUTOR=local"))
    return True


# --- 3. duckdb: imported on first use ---------------------------------------------------------------


class OnFirstUse(types.ModuleType):
    """Stands in ``sys.modules`` for an installed module and imports the real one when an attribute is first read."""

    def __init__(self, spec) -> None:
        super().__init__(spec.name)
        self.__spec__ = spec
        self.__lock = threading.RLock()
        self.__real: types.ModuleType | None = None

    def __getattr__(self, name: str):
        with self.__lock:
            if self.__real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                self.__real = importlib.import_module(self.__name__)
        return getattr(self.__real, name)


def defer_duckdb() -> bool:
    """Fix 3: let athena's "is duckdb installed?" import succeed without loading it. False when not applied."""
    spec = importlib.util.find_spec("duckdb")
    if spec is None or "duckdb" in sys.modules or not probes_at_import("ministack.services.athena", "duckdb"):
        return False
    sys.modules["duckdb"] = OnFirstUse(spec)
    return True


def probes_at_import(module: str, package: str) -> bool:
    """Whether ``module``'s source imports ``package`` in a top-level ``try:`` (an "is it installed?" probe)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return False
    with open(spec.origin, encoding="utf-8") as f:
        return imports_in_top_level_try(f, package)  # line by line: the whole source would stay in RSS


def imports_in_top_level_try(lines: Iterable[str], package: str) -> bool:
    imports = re.compile(rf"""\bimport {re.escape(package)}\b|\bimport_module\(["']{re.escape(package)}["']\)""")
    in_try = False
    for line in lines:
        if line.startswith("try:"):
            in_try = True
        elif line.strip() and not line[0].isspace():
            in_try = False
        elif in_try and imports.search(line):
            return True
    return False


def main() -> None:
    applied = [name for name, fix in (("docker", block_docker), ("duckdb", defer_duckdb),
                                      ("service models", slim_service_models)) if fix()]
    print(f"ministack_launch: applied: {', '.join(applied) or 'none'}", file=sys.stderr, flush=True)
    from ministack.app import main as ministack_main

    sys.argv[0] = "ministack"  # what the console script passes on, for argparse's messages
    sys.exit(ministack_main())


if __name__ == "__main__":
    main()
