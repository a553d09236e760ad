"""Build the Lambda deployment package reproducibly.

The package holds ``stock_pipeline`` and the libraries it needs that the Lambda runtime
lacks, copied from this environment's installed distributions: every target runs the
very files the tests ran with, and no build step needs the network. The same sources
always give the same bytes (sorted entries, fixed timestamps and permissions), so
Terraform's ``source_code_hash`` only changes when code does and an unchanged function
is never redeployed.

The package also carries, under ``stock_pipeline/_botocore_data/``, the installed botocore's
``endpoints.json`` cut down to the services the functions call. On the emulators Terraform
puts that directory first on botocore's data path (``AWS_DATA_PATH``, terraform/compute.tf):
the full file, 1.25 MB of JSON for some 300 services, costs each function worker about 7 MiB
once parsed, for the three services it talks to. On AWS the runtime's botocore keeps its own.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

from tickstack.settings import PROJECT_ROOT

PACKAGE_DIR = PROJECT_ROOT / "lambda" / "stock_pipeline"
LAMBDA_ZIP = PROJECT_ROOT / "build" / "lambda" / "stock_pipeline.zip"
# 1980-01-01 is the earliest time a zip entry can carry.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
# Powertools and what it imports (its Tracer: aws-xray-sdk and wrapt); boto3 and botocore come with
# every Python Lambda runtime.
VENDORED = ("aws-lambda-powertools", "typing_extensions", "jmespath", "aws-xray-sdk", "wrapt")
# The package's directory of botocore data, and that directory from the code's root: AWS_DATA_PATH
# on the emulators (terraform/compute.tf's local.botocore_data_path, tied to this by a test).
BOTOCORE_DATA_DIR = "_botocore_data"
BOTOCORE_DATA_PATH = f"{PACKAGE_DIR.name}/{BOTOCORE_DATA_DIR}"
# The services the functions make clients for (stock_pipeline.adapters), the only ones the trimmed
# endpoint data keeps; tests/unit/test_botocore_data.py holds the adapters to this list.
CLIENT_SERVICES = ("dynamodb", "s3", "sns")


def package_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    return sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)


def vendored_files(distributions: tuple[str, ...] = VENDORED) -> dict[str, Path]:
    """Archive name -> installed file, for each distribution's importable files."""
    files: dict[str, Path] = {}
    for name in distributions:
        dist = importlib.metadata.distribution(name)
        for entry in dist.files or ():
            arcname = entry.as_posix()
            # Skip compiled caches (they depend on the build's Python) and scripts installed outside site-packages.
            if arcname.startswith("..") or "__pycache__" in entry.parts or arcname.endswith(".pyc"):
                continue
            files[arcname] = Path(dist.locate_file(entry))
    return files


def botocore_endpoints_file() -> Path:
    """The installed botocore's endpoints.json, the one its clients read by default."""
    return Path(importlib.metadata.distribution("botocore").locate_file("botocore/data/endpoints.json"))


def trimmed_endpoints(services: Iterable[str]) -> bytes:
    """botocore's endpoints.json with every partition and all its own fields (partition, dnsSuffix,
    regions, regionRegex, defaults, ...) but only `services` among its services."""
    endpoints = json.loads(botocore_endpoints_file().read_bytes())
    wanted = set(services)
    known = {name for partition in endpoints["partitions"] for name in partition["services"]}
    if wanted - known:
        raise ValueError(f"botocore's endpoints.json has no service {sorted(wanted - known)}")
    for partition in endpoints["partitions"]:
        partition["services"] = {name: entry for name, entry in partition["services"].items() if name in wanted}
    # The file's own key order, compact: the same botocore always gives the same bytes.
    return json.dumps(endpoints, separators=(",", ":")).encode()


def build(out: Path = LAMBDA_ZIP, package_dir: Path = PACKAGE_DIR, vendored: tuple[str, ...] = VENDORED,
          client_services: tuple[str, ...] = CLIENT_SERVICES) -> str:
    """Write the zip and return its SHA-256 hex digest. No `client_services`: no botocore data."""
    entries = {arcname: path.read_bytes() for arcname, path in vendored_files(vendored).items()}
    for path in package_files(package_dir):
        entries[(Path(package_dir.name) / path.relative_to(package_dir)).as_posix()] = path.read_bytes()
    if client_services:
        entries[f"{package_dir.name}/{BOTOCORE_DATA_DIR}/endpoints.json"] = trimmed_endpoints(client_services)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[arcname])
    tmp.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LAMBDA_ZIP)
    args = parser.parse_args()
    digest = build(args.out)
    print(f"{args.out} sha256={digest}")


if __name__ == "__main__":
    main()
