"""The S3 archive as ProcessStockData writes it: JSON Lines objects keyed by contract.archive_key.

An object holds one batch's stored ticks of one arrival day, of every symbol in the batch: its key
names no symbol, each line does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stock_pipeline.contract import RAW_PREFIX, ArchiveKey, TickItem, parse_archive_key
from tickstack.targets import Target


def archive_objects(target: Target) -> dict[str, ArchiveKey]:
    """The archive's objects by key, each with its key's parts, in key order."""
    outputs = target.outputs
    prefix = outputs.get("raw_prefix") or RAW_PREFIX
    found: dict[str, ArchiveKey] = {}
    pages = target.client("s3").get_paginator("list_objects_v2").paginate(Bucket=outputs["bucket_name"], Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            parts = parse_archive_key(obj["Key"], prefix)
            if parts is not None:
                found[obj["Key"]] = parts
    return found


def archived_ticks(target: Target, keys: Iterable[str], symbol: str | None = None) -> list[dict[str, Any]]:
    """Every line (of `symbol`, when given) of the objects under `keys`, as JSON objects, in that order."""
    s3, bucket = target.client("s3"), target.outputs["bucket_name"]
    ticks = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        lines = (json.loads(line) for line in body.splitlines() if line.strip())
        ticks.extend(line for line in lines if symbol is None or line[TickItem.SYMBOL] == symbol)
    return ticks
