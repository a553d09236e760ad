"""Build the Lambda deployment package reproducibly.

The package holds ``stock_pipeline`` and the libraries it needs that the Lambda runtime
lacks, copied from this environment's installed distributions: every target runs the
very files the tests ran with, and no build step needs the network. The same sources
always give the same bytes (sorted entries, fixed timestamps and permissions), so
Terraform's ``source_code_hash`` only changes when code does and an unchanged function
is never redeployed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

from tickstack.settings import PROJECT_ROOT

PACKAGE_DIR = PROJECT_ROOT / "lambda" / "stock_pipeline"
LAMBDA_ZIP = PROJECT_ROOT / "build" / "lambda" / "stock_pipeline.zip"
# 1980-01-01 is the earliest time a zip entry can carry.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
# Powertools and what it imports (its Tracer: aws-xray-sdk and wrapt); boto3 and botocore come with
# every Python Lambda runtime.
VENDORED = ("aws-lambda-powertools", "typing_extensions", "jmespath", "aws-xray-sdk", "wrapt")


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


def build(out: Path = LAMBDA_ZIP, package_dir: Path = PACKAGE_DIR, vendored: tuple[str, ...] = VENDORED) -> str:
    """Write the zip and return its SHA-256 hex digest."""
    entries = vendored_files(vendored)
    for path in package_files(package_dir):
        entries[(Path(package_dir.name) / path.relative_to(package_dir)).as_posix()] = path
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[arcname].read_bytes())
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
