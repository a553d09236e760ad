"""The S3 archive as ProcessStockData writes it: JSON Lines objects keyed by contract.archive_key."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stock_pipeline.contract import RAW_PREFIX, ArchiveKey, parse_archive_key
from tickstack.targets import Target


def archive_objects(target: Target, symbol: str | None = None) -> dict[str, ArchiveKey]:
    """The archive's objects (of `symbol`, when given) by key, each with its key's parts, in key order."""
    outputs = target.outputs
    prefix = outputs.get("raw_prefix") or RAW_PREFIX
    found: dict[str, ArchiveKey] = {}
    pages = target.client("s3").get_paginator("list_objects_v2").paginate(Bucket=outputs["bucket_name"], Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            parts = parse_archive_key(obj["Key"], prefix)
            if parts is not None and (symbol is None or parts.symbol == symbol):
                found[obj["Key"]] = parts
    return found


def archived_ticks(target: Target, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Every line of the objects under `keys`, as JSON objects, in that order."""
    s3, bucket = target.client("s3"), target.outputs["bucket_name"]
    ticks = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        ticks.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return ticks
