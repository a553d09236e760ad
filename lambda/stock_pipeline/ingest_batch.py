"""One Kinesis batch's writes: its valid ticks stored with BatchWriteItem, archived as one object.

ProcessStockData checks each record on its own (a bad one is quarantined there) and hands
the valid ones here once the whole batch has been read:

- The items go to the ticks table in as few requests as DynamoDB takes. One request may not
  hold a key twice, so of the records with the same symbol and timestamp the last one in the
  batch is written, as one PutItem after the other would have left it.
- The items that landed are archived as JSON Lines, one object per batch and arrival day
  (almost always one per batch) holding every symbol's lines in stream order, keyed by the
  shard and the first sequence number of the batch's valid records on that day
  (contract.archive_key): a redelivered batch overwrites its own object. One PUT per batch,
  not per symbol: a live batch holds about one tick of each of many symbols, so an object per
  symbol would be a PUT per tick (S3 bills each) and a small file per tick, the layout Athena
  reads slowest.
- A record fails when its item did not land, in the table or in the archive, and so does every
  record its item superseded; nothing else fails. A failed put fails every record archived in
  its object. The handler reports them as batchItemFailures.

Pure apart from the two ports: no Powertools, no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from stock_pipeline.contract import ARCHIVE_CONTENT_TYPE, TickItem, archive_key
from stock_pipeline.ports import Archive, TickStore, UnwrittenItems
from stock_pipeline.ticks import to_archive_json

Source = TypeVar("Source")
Key = tuple[str, str]


@dataclass(frozen=True)
class Accepted(Generic[Source]):
    """A valid record's enriched item, and where in the stream it came from."""

    source: Source  # what a failure is reported against: the Kinesis record
    item: Mapping[str, Any]
    shard_id: str | None
    sequence_number: str
    arrival_day: str  # YYYY-MM-DD


@dataclass(frozen=True)
class Failed(Generic[Source]):
    source: Source
    error: Exception


@dataclass(frozen=True)
class Written(Generic[Source]):
    failed: list[Failed[Source]] = field(default_factory=list)
    archive_keys: list[str] = field(default_factory=list)


def write_batch(
    accepted: Sequence[Accepted[Source]], ticks: TickStore, archive: Archive, raw_prefix: str
) -> Written[Source]:
    """Store and archive the valid records of one batch, in stream order; return those whose data did not land."""
    latest: dict[Key, Accepted[Source]] = {_key(record): record for record in accepted}
    survivors = [record for record in accepted if latest[_key(record)] is record]
    errors: dict[Key, Exception] = _store(survivors, ticks)

    keys: list[str] = []
    for day, group in _by_day(accepted).items():
        # Named after the day's first valid record, stored or not, so that a redelivery names it alike.
        first = group[0]
        key = archive_key(raw_prefix, day, first.shard_id, first.sequence_number)
        stored = [record for record in group if latest[_key(record)] is record and _key(record) not in errors]
        if not stored:
            continue
        try:
            archive.put_object(key, "".join(to_archive_json(record.item) + "\n" for record in stored),
                               ARCHIVE_CONTENT_TYPE)
        # Whatever stops the put (throttling, a network error) fails this object's records (and those they
        # superseded) only.
        except Exception as exc:
            errors.update((_key(record), exc) for record in stored)
        else:
            keys.append(key)

    failed = [Failed(record.source, errors[_key(record)]) for record in accepted if _key(record) in errors]
    return Written(failed, keys)


def _store(survivors: Sequence[Accepted[Source]], ticks: TickStore) -> dict[Key, Exception]:
    """Why each item that did not land failed."""
    if not survivors:
        return {}
    try:
        ticks.put_batch([record.item for record in survivors])
    except UnwrittenItems as exc:
        return {key: exc for key in exc.reasons}
    # Anything else leaves no telling which items landed: all are retried (a rewrite is harmless).
    except Exception as exc:
        return {_key(record): exc for record in survivors}
    return {}


def _by_day(accepted: Sequence[Accepted[Source]]) -> dict[str, list[Accepted[Source]]]:
    """The records by arrival day, each day's in stream order."""
    groups: dict[str, list[Accepted[Source]]] = {}
    for record in accepted:
        groups.setdefault(record.arrival_day, []).append(record)
    return groups


def _key(record: Accepted[Any]) -> Key:
    return record.item[TickItem.SYMBOL], record.item[TickItem.TIMESTAMP]
