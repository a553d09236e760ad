"""Put ticks on a Kinesis stream in order, as fast as the stream takes them."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from botocore.exceptions import BotoCoreError, ClientError

MAX_RECORDS_PER_CALL = 500


class StreamRejected(RuntimeError):
    """The stream kept refusing records; ``sent`` lists the ones that landed before it gave up, in order."""

    def __init__(self, message: str, sent: Sequence["Sent"] = ()) -> None:
        super().__init__(message)
        self.sent = list(sent)


# What a send raises when the stream cannot take records right now: throttled beyond the retries,
# the endpoint gone (EndpointConnectionError and timeouts are BotoCoreErrors), or an error answer.
SINK_ERRORS = (StreamRejected, BotoCoreError, ClientError)


def tick_record(tick: dict) -> tuple[str, bytes]:
    """A tick as a (partition_key, data) record: keyed by symbol, so each symbol's ticks stay in order on one shard."""
    return tick["symbol"], json.dumps(tick).encode()


@dataclass(frozen=True)
class Sent:
    partition_key: str
    data: bytes
    shard_id: str
    sequence_number: str


class KinesisSink:
    def __init__(self, client, stream_name: str, max_attempts: int = 8, backoff: float = 0.2,
                 sleep: Callable[[float], None] = time.sleep, rng: Callable[[], float] = random.random):
        self.client = client
        self.stream_name = stream_name
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.rng = rng

    def send(self, records: Sequence[tuple[str, bytes]]) -> list[Sent]:
        """Send (partition_key, data) pairs and return where each landed, in input order.

        When a call is partly throttled, everything from the first failed record on is sent
        again, so per-symbol order holds; a record that had landed after that point lands
        twice, which the pipeline absorbs (writes are keyed by symbol and timestamp).
        """
        sent: list[Sent] = []
        pending = list(records)
        attempts = 0
        while pending:
            chunk = pending[:MAX_RECORDS_PER_CALL]
            response = self.client.put_records(
                StreamName=self.stream_name,
                Records=[{"PartitionKey": key, "Data": data} for key, data in chunk],
            )
            results = response["Records"]
            first_failed = next((i for i, r in enumerate(results) if r.get("ErrorCode")), None)
            landed = chunk if first_failed is None else chunk[:first_failed]
            sent.extend(Sent(k, d, r["ShardId"], r["SequenceNumber"]) for (k, d), r in zip(landed, results))
            pending = pending[len(landed):]
            if first_failed is None:
                attempts = 0
                continue
            attempts += 1
            if attempts >= self.max_attempts:
                error = results[first_failed]
                raise StreamRejected(
                    f"{self.stream_name} kept refusing records after {attempts} attempts: "
                    f"{error.get('ErrorCode')}: {error.get('ErrorMessage')}",
                    sent=sent,
                )
            # Jittered (half to full delay) so that producers throttled together do not retry together.
            self.sleep(self.backoff * 2 ** (attempts - 1) * (0.5 + self.rng() / 2))
        return sent
