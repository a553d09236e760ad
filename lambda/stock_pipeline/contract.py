"""What the functions, the CLI and Terraform agree on: names, prefixes, key layouts, item fields.

Each fact is written here once and imported wherever it is needed; the copies that cannot
import it (the Terraform variables' defaults, the Glue columns) are tied to it by tests.
Pure: standard library only, so the CLI imports it without Powertools and the functions
without boto3 at import time.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Final, NamedTuple

# --- time and windows ---------------------------------------------------------------------------

# Every stored timestamp: whole seconds in UTC. Its strings sort in time order, which the
# ticks table's sort key and the trend analysis rely on.
TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

DEFAULT_SHORT_WINDOW: Final = 5
DEFAULT_LONG_WINDOW: Final = 20

# ProcessStockData quarantines a tick stamped further than this ahead of its own clock: one
# such tick would otherwise move its symbol's analysis position out of reach (see
# stock_pipeline.lateness). Terraform's future_tolerance_seconds overrides it.
DEFAULT_FUTURE_TOLERANCE_SECONDS: Final = 300
# A symbol whose analysis has not advanced for this long while late ticks of it keep arriving
# is stalled (StalledSymbols metric, its alarm, `tickstack status`). Terraform's
# stalled_after_seconds overrides it; it must exceed the future tolerance.
DEFAULT_STALLED_AFTER_SECONDS: Final = 900

# The largest record ProcessStockData accepts, in bytes: a producer tick is about 200.
MAX_TICK_BYTES: Final = 4096

GOLDEN_CROSS: Final = "GOLDEN_CROSS"
DEATH_CROSS: Final = "DEATH_CROSS"
SIGNALS: Final = (GOLDEN_CROSS, DEATH_CROSS)


# --- environment variables (Terraform sets them on the functions) -------------------------------


class Env:
    TICKS_TABLE: Final = "TICKS_TABLE"
    ARCHIVE_BUCKET: Final = "ARCHIVE_BUCKET"
    RAW_PREFIX: Final = "RAW_PREFIX"
    REJECTED_PREFIX: Final = "REJECTED_PREFIX"
    TREND_STATE_TABLE: Final = "TREND_STATE_TABLE"
    ALERTS_TABLE: Final = "ALERTS_TABLE"
    ALERT_TOPIC_ARN: Final = "ALERT_TOPIC_ARN"
    SHORT_WINDOW: Final = "SHORT_WINDOW"
    LONG_WINDOW: Final = "LONG_WINDOW"
    FUTURE_TOLERANCE_SECONDS: Final = "FUTURE_TOLERANCE_SECONDS"
    STALLED_AFTER_SECONDS: Final = "STALLED_AFTER_SECONDS"
    # Emulators only: a FaultSpec (stock_pipeline.faults), e.g. "process=0.2,trend_crash_after_publish=0.3".
    FAULT_INJECTION: Final = "FAULT_INJECTION"


# What each function reads; the prefixes, windows, tolerances and faults have defaults, the others are required.
INGEST_ENV: Final = (
    Env.TICKS_TABLE,
    Env.ARCHIVE_BUCKET,
    Env.RAW_PREFIX,
    Env.REJECTED_PREFIX,
    Env.FUTURE_TOLERANCE_SECONDS,
    Env.FAULT_INJECTION,
)
TREND_ENV: Final = (
    Env.TICKS_TABLE,
    Env.TREND_STATE_TABLE,
    Env.ALERTS_TABLE,
    Env.ALERT_TOPIC_ARN,
    Env.SHORT_WINDOW,
    Env.LONG_WINDOW,
    Env.STALLED_AFTER_SECONDS,
    Env.FAULT_INJECTION,
)

# The kinds of fault FAULT_INJECTION can inject, each with the share of invocations it hits.
FAULT_PROCESS: Final = "process"  # ProcessStockData fails before doing anything
FAULT_TREND: Final = "trend"  # StockTrendAnalysis fails before doing anything
FAULT_TREND_CRASH_AFTER_PUBLISH: Final = "trend_crash_after_publish"  # dies after SNS took an alert
FAULT_KINDS: Final = (FAULT_PROCESS, FAULT_TREND, FAULT_TREND_CRASH_AFTER_PUBLISH)


# --- the ticks table and its S3 archive ---------------------------------------------------------


class TickItem:
    """The ticks-table item (ticks.enrich builds it); an archive object is the same fields as JSON."""

    SYMBOL: Final = "symbol"  # partition key
    TIMESTAMP: Final = "timestamp"  # sort key, TIMESTAMP_FORMAT
    OPEN: Final = "open"
    HIGH: Final = "high"
    LOW: Final = "low"
    PRICE: Final = "price"
    PREVIOUS_CLOSE: Final = "previous_close"
    CHANGE: Final = "change"
    CHANGE_PERCENT: Final = "change_percent"
    VOLUME: Final = "volume"
    MOVING_AVERAGE: Final = "moving_average"
    ANOMALY: Final = "anomaly"  # ANOMALY_YES or ANOMALY_NO


TICKS_PARTITION_KEY: Final = TickItem.SYMBOL
TICKS_SORT_KEY: Final = TickItem.TIMESTAMP
# In the order ticks.enrich writes them.
TICK_ITEM_FIELDS: Final = (
    TickItem.SYMBOL,
    TickItem.TIMESTAMP,
    TickItem.OPEN,
    TickItem.HIGH,
    TickItem.LOW,
    TickItem.PRICE,
    TickItem.PREVIOUS_CLOSE,
    TickItem.CHANGE,
    TickItem.CHANGE_PERCENT,
    TickItem.VOLUME,
    TickItem.MOVING_AVERAGE,
    TickItem.ANOMALY,
)
ANOMALY_YES: Final = "Yes"
ANOMALY_NO: Final = "No"

RAW_PREFIX: Final = "raw-data/"
REJECTED_PREFIX: Final = "rejected/"


# The archive is partitioned Hive-style by the records' arrival date (Kinesis
# approximateArrivalTimestamp, as rejected/ keys are), the Glue table's only partition key:
# <prefix>dt=2026-11-25/... Its Athena projection reads the day as ARCHIVE_DAY_FORMAT.
ARCHIVE_PARTITION_KEY: Final = "dt"
ARCHIVE_DAY_FORMAT: Final = "%Y-%m-%d"
ARCHIVE_CONTENT_TYPE: Final = "application/x-ndjson"


class ArchiveKey(NamedTuple):
    """The parts of an archive object's key; `archive_key(*parts)` gives the key back."""

    prefix: str
    day: str  # the records' arrival date, YYYY-MM-DD
    shard_id: str | None
    sequence_number: str  # the first of the batch's valid records that arrived on this day


def archive_key(prefix: str, day: str, shard_id: str | None, sequence_number: str) -> str:
    """One JSON Lines object per batch and arrival day, of every symbol; a redelivered batch lands on the same key.

    Per batch, not per symbol: a live batch holds one tick of each of many symbols, and an object
    per symbol would be a PUT (S3 bills each) and a small file (Athena's slowest input) per tick.
    The symbol is a column of each line. The name starts with the shard id (or "unknown"), never
    with "_" or ".", which would hide the file from Athena.
    """
    return f"{prefix}{ARCHIVE_PARTITION_KEY}={day}/{shard_id or UNKNOWN_SHARD}-{sequence_number}.jsonl"


# Shard ids ("shardId-000000000000") hold dashes, sequence numbers (decimal digits) none.
_ARCHIVE_NAME = re.compile(
    rf"{ARCHIVE_PARTITION_KEY}=(?P<day>\d{{4}}-\d{{2}}-\d{{2}})/(?P<shard>[^/_]+)-(?P<sequence>[0-9]+)\.jsonl"
)


def parse_archive_key(key: str, prefix: str = RAW_PREFIX) -> ArchiveKey | None:
    """The parts of a key `archive_key` made under `prefix`, or None for any other key."""
    if not key.startswith(prefix):
        return None
    match = _ARCHIVE_NAME.fullmatch(key[len(prefix) :])
    if match is None:
        return None
    shard = match["shard"]
    return ArchiveKey(prefix, match["day"], None if shard == UNKNOWN_SHARD else shard, match["sequence"])


# --- quarantined records ------------------------------------------------------------------------


class RejectedObject:
    """The JSON body of a quarantined record."""

    REASON: Final = "reason"
    RAW: Final = "raw"  # the payload as text, undecodable bytes as backslash escapes
    SEQUENCE_NUMBER: Final = "sequence_number"
    PARTITION_KEY: Final = "partition_key"
    REJECTED_AT: Final = "rejected_at"  # TIMESTAMP_FORMAT


# A shard id is unknown when the record's eventID does not name one.
UNKNOWN_SHARD: Final = "unknown"


class RejectedKey(NamedTuple):
    """The parts of a quarantined record's key; `rejected_key(*parts)` gives the key back."""

    prefix: str
    day: str  # the record's arrival date, YYYY-MM-DD
    shard_id: str | None
    sequence_number: str


def rejected_key(prefix: str, day: str, shard_id: str | None, sequence_number: str) -> str:
    """One object per record: a redelivered bad record lands on the same key."""
    return f"{prefix}{day}/{shard_id or UNKNOWN_SHARD}-{sequence_number}.json"


# Shard ids ("shardId-000000000000") hold dashes, sequence numbers (decimal digits) none.
_REJECTED_NAME = re.compile(r"(?P<day>\d{4}-\d{2}-\d{2})/(?P<shard>[^/]+)-(?P<sequence>[^/\-]+)\.json")


def parse_rejected_key(key: str, prefix: str = REJECTED_PREFIX) -> RejectedKey | None:
    """The parts of a key `rejected_key` made under `prefix`, or None for any other key."""
    if not key.startswith(prefix):
        return None
    match = _REJECTED_NAME.fullmatch(key[len(prefix) :])
    if match is None:
        return None
    shard = match["shard"]
    return RejectedKey(prefix, match["day"], None if shard == UNKNOWN_SHARD else shard, match["sequence"])


def rejected_sequence_number(key: str, prefix: str = REJECTED_PREFIX) -> str | None:
    """The Kinesis sequence number of the record quarantined under `key`, or None for any other key."""
    parts = parse_rejected_key(key, prefix)
    return None if parts is None else parts.sequence_number


# --- the trend-state table ----------------------------------------------------------------------


class TrendStateItem:
    """One symbol's trend state: where its analysis stopped, and its alert outbox."""

    SYMBOL: Final = "symbol"  # partition key
    VERSION: Final = "version"  # 1 after the first save, +1 on every save
    LAST_TIMESTAMP: Final = "last_timestamp"  # absent until a tick was analysed
    LAST_SIGN: Final = "last_sign"  # -1, 0 or 1
    WINDOW: Final = "window"  # the latest prices, oldest first
    PENDING: Final = "pending"  # a list of PendingCross maps, oldest first
    UPDATED_AT: Final = "updated_at"  # TIMESTAMP_FORMAT
    # Late ticks (see stock_pipeline.lateness); every time is whole epoch seconds of the
    # trend function's clock, and each field is absent until it has a value.
    READ_AT: Final = "read_at"  # when the table read that last moved last_timestamp returned, rounded up
    LATE_TICKS: Final = "late_ticks"  # late ticks counted since the item exists
    LAST_LATE_AT: Final = "last_late_at"  # when the last late tick was counted
    LATE_SEQUENCE: Final = "late_sequence"  # the highest stream sequence number counted as late


TREND_STATE_PARTITION_KEY: Final = TrendStateItem.SYMBOL


class PendingCross:
    """One map in a trend-state item's `pending` list: a cross committed but not yet published."""

    SIGNAL: Final = "signal"
    TIMESTAMP: Final = "timestamp"
    PRICE: Final = "price"
    SMA_SHORT: Final = "sma_short"
    SMA_LONG: Final = "sma_long"
    SHORT_WINDOW: Final = "short_window"
    LONG_WINDOW: Final = "long_window"
    # What items written before the windows became configurable call the two averages;
    # still read, never written.
    LEGACY_SMA_SHORT: Final = "sma5"
    LEGACY_SMA_LONG: Final = "sma20"


# --- alerts -------------------------------------------------------------------------------------


class AlertAttribute:
    """The SNS message attributes of an alert; every value is a String."""

    ALERT_ID: Final = "alert_id"  # see alert_id()
    SYMBOL: Final = "symbol"
    SIGNAL: Final = "signal"  # one of SIGNALS
    PRICE: Final = "price"
    TIMESTAMP: Final = "timestamp"  # the crossing tick's, TIMESTAMP_FORMAT
    SMA_SHORT: Final = "sma_short"
    SMA_LONG: Final = "sma_long"
    SHORT_WINDOW: Final = "short_window"
    LONG_WINDOW: Final = "long_window"


ALERT_ATTRIBUTES: Final = (
    AlertAttribute.ALERT_ID,
    AlertAttribute.SYMBOL,
    AlertAttribute.SIGNAL,
    AlertAttribute.PRICE,
    AlertAttribute.TIMESTAMP,
    AlertAttribute.SMA_SHORT,
    AlertAttribute.SMA_LONG,
    AlertAttribute.SHORT_WINDOW,
    AlertAttribute.LONG_WINDOW,
)

# The last line of an alert's message is ALERT_ID_LINE_PREFIX + its alert id.
ALERT_ID_LINE_PREFIX: Final = "Alert ID: "


def alert_id(symbol: str, timestamp: str, signal: str) -> str:
    """The same for every delivery of one cross: e.g. "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS"."""
    return f"{symbol}-{timestamp}-{signal}"


# --- the alerts table ---------------------------------------------------------------------------


class AlertItem:
    """One alert the trend function published: written after SNS accepted it, before it leaves the outbox.

    The alert's message attributes are kept under their own names, as the same Strings; a
    re-publish rewrites them alike, keeps PUBLISHED_AT and adds one to PUBLISH_COUNT.
    """

    ALERT_ID: Final = AlertAttribute.ALERT_ID  # partition key
    SYMBOL: Final = AlertAttribute.SYMBOL
    SIGNAL: Final = AlertAttribute.SIGNAL
    TIMESTAMP: Final = AlertAttribute.TIMESTAMP
    PRICE: Final = AlertAttribute.PRICE
    SMA_SHORT: Final = AlertAttribute.SMA_SHORT
    SMA_LONG: Final = AlertAttribute.SMA_LONG
    SHORT_WINDOW: Final = AlertAttribute.SHORT_WINDOW
    LONG_WINDOW: Final = AlertAttribute.LONG_WINDOW
    SUBJECT: Final = "subject"
    MESSAGE: Final = "message"
    PUBLISHED_AT: Final = "published_at"  # when SNS first accepted it, see sns_time()
    PUBLISH_COUNT: Final = "publish_count"  # a Number: how many publishes SNS accepted and the table recorded


ALERTS_PARTITION_KEY: Final = AlertItem.ALERT_ID


def sns_time(epoch_seconds: float) -> str:
    """An instant written as SNS stamps a notification ("2026-11-25T23:16:26.042Z"), UTC, milliseconds."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
