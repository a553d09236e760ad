"""Count every AWS request a process makes, from botocore's own events, into a file of its own.

Two uses, one code:

- In the Lambda workers, unchanged functions: this file is copied as ``sitecustomize.py`` into a
  directory the bench puts on the emulator's ``PYTHONPATH``. MiniStack runs each worker on its own
  interpreter with its whole environment, so every worker imports it at start-up. It switches on
  only when ``TICKSTACK_COUNT_REQUESTS_DIR`` is set *and* the process is a Lambda worker
  (``AWS_LAMBDA_FUNCTION_NAME``, which MiniStack sets in a worker's environment and has not in its
  own): the emulator's own process imports this file too and counts nothing.
- In the bench process, for the producer: `count_client` hooks one client.

Each call is one JSON line, written with a single ``os.write`` to a file opened ``O_APPEND``: a worker
killed at any moment loses at most the call it was making. Only the standard library and botocore
are imported, and botocore only once switched on.

A line: ``{"fn": source, "s": service, "o": operation, ...}`` and, where they apply, ``r`` items
returned by a read, ``sc`` items the read went through (what DynamoDB bills), ``rs`` bytes of the
items returned, ``c`` 1 for a strongly consistent read, ``w`` items written, ``ws`` bytes of the
items written, ``wu`` write units those items take, ``t`` tables, ``b`` bytes sent (an S3 body, a
Kinesis record's data, an SNS message), ``n`` records or messages in the call, ``e`` 1 when the
call failed. Counted once per API call (botocore's own retries of a call are not counted again).
"""

from __future__ import annotations

import base64
import json
import math
import os

DIR_VARIABLE = "TICKSTACK_COUNT_REQUESTS_DIR"
# Set by MiniStack in a Lambda worker's environment; absent from the emulator's own process.
FUNCTION_VARIABLE = "AWS_LAMBDA_FUNCTION_NAME"
FILE_SUFFIX = ".calls.jsonl"
_FACTS = "tickstack_request_facts"

# DynamoDB item size rules (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
# CapacityUnitCalculations.html): names and strings in UTF-8 bytes, a number about one byte per two
# significant digits plus one, binary in bytes, booleans and null one byte, a list or map three
# bytes plus one per element plus its elements.
WRITE_UNIT_BYTES = 1024


def attribute_size(value: dict) -> int:
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(base64.b64decode(data)) if isinstance(data, str) else len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) if isinstance(b, str) else len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + attribute_size(v) for k, v in data.items())
    return len(json.dumps(data))


def item_size(item: dict) -> int:
    """An item's size as DynamoDB bills it, from its wire form ({"name": {"S": "..."}})."""
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0].strip("0")
    return (len(digits) + 1) // 2 + 1


def _body(params: dict):
    body = params.get("body")
    if isinstance(body, (bytes, bytearray)):
        return json.loads(body) if body else {}
    if isinstance(body, str):
        return json.loads(body) if body else {}
    return body if isinstance(body, dict) else {}


def _length(body) -> int:
    if body is None:
        return 0
    if isinstance(body, (bytes, bytearray, str)):
        return len(body)
    try:  # a file-like body
        position = body.tell()
        body.seek(0, os.SEEK_END)
        size = body.tell() - position
        body.seek(position)
        return size
    except (AttributeError, OSError, ValueError):
        return 0


def request_facts(service: str, operation: str, params: dict) -> dict:
    """What the request itself says about its cost (before it is sent)."""
    facts: dict = {}
    if service == "dynamodb":
        body = _body(params)
        if "TableName" in body:
            facts["t"] = [body["TableName"]]
        if body.get("ConsistentRead"):
            facts["c"] = 1
        if operation == "PutItem":
            size = item_size(body.get("Item", {}))
            facts.update(w=1, ws=size, wu=write_units(size))
        elif operation in ("UpdateItem", "DeleteItem"):
            # The stored item's size is not in the request: the key and new values give a lower bound.
            size = item_size(body.get("Key", {})) + sum(attribute_size(v) for v in
                                                        body.get("ExpressionAttributeValues", {}).values())
            facts.update(w=1, ws=size, wu=write_units(size))
        elif operation == "BatchWriteItem":
            sizes = {}
            for table, requests in body.get("RequestItems", {}).items():
                for request in requests:
                    put, delete = request.get("PutRequest") or {}, request.get("DeleteRequest") or {}
                    item = put.get("Item") or delete.get("Key", {})
                    sizes.setdefault(table, []).append(item_size(item))
            facts["t"] = sorted(sizes)
            facts["_sizes"] = sizes
        elif operation == "TransactWriteItems":
            sizes = []
            tables = set()
            for entry in body.get("TransactItems", []):
                for request in entry.values():
                    tables.add(request.get("TableName", ""))
                    sizes.append(item_size(request.get("Item") or request.get("Key") or {}))
            # A transactional write takes two units per kilobyte.
            facts.update(t=sorted(tables), w=len(sizes), ws=sum(sizes), wu=2 * sum(write_units(s) for s in sizes))
        elif operation in ("BatchGetItem",):
            tables = body.get("RequestItems", {})
            facts["t"] = sorted(tables)
            if any(request.get("ConsistentRead") for request in tables.values()):
                facts["c"] = 1
            # Each key read is billed as a GetItem of it would be, found or not.
            facts["_keys"] = sum(len(request.get("Keys", [])) for request in tables.values())
    elif service == "s3" and operation in ("PutObject", "UploadPart"):
        facts["b"] = _length(params.get("body"))
    elif service == "kinesis" and operation in ("PutRecords", "PutRecord"):
        body = _body(params)
        records = body.get("Records") or [body]
        sizes = [len(base64.b64decode(r.get("Data", ""))) + len(r.get("PartitionKey", "").encode("utf-8"))
                 for r in records]
        facts.update(n=len(sizes), b=sum(sizes), kb=sum(max(1, math.ceil(s / 1024)) for s in sizes))
    elif service == "sns" and operation in ("Publish", "PublishBatch"):
        body = params.get("body") if isinstance(params.get("body"), dict) else {}
        messages = [value for key, value in body.items() if key == "Message" or key.endswith(".Message")]
        facts.update(n=max(1, len(messages)), b=sum(len(str(m).encode("utf-8")) for m in messages))
    return facts


def response_facts(service: str, operation: str, parsed: dict, facts: dict) -> dict:
    """What the answer adds: items read, writes a batch left unprocessed."""
    if service != "dynamodb" or not isinstance(parsed, dict):
        return facts
    if operation in ("Query", "Scan"):
        items = parsed.get("Items", [])
        facts.update(r=parsed.get("Count", len(items)), sc=parsed.get("ScannedCount", len(items)),
                     rs=sum(item_size(i) for i in items))
    elif operation == "GetItem":
        item = parsed.get("Item")
        facts.update(r=1 if item else 0, sc=1, rs=item_size(item) if item else 0)
    elif operation == "BatchGetItem":
        items = [i for found in parsed.get("Responses", {}).values() for i in found]
        left = sum(len(request.get("Keys", [])) for request in (parsed.get("UnprocessedKeys") or {}).values())
        read = facts.pop("_keys", len(items)) - left
        facts.update(r=len(items), sc=max(read, len(items)), rs=sum(item_size(i) for i in items))
    elif operation == "TransactGetItems":
        items = [r.get("Item") for r in parsed.get("Responses", []) if r.get("Item")]
        facts.update(r=len(items), sc=len(parsed.get("Responses", [])), rs=sum(item_size(i) for i in items))
    sizes = facts.pop("_sizes", None)
    if sizes is not None:  # BatchWriteItem: what it did not process was not written
        for table, requests in (parsed.get("UnprocessedItems") or {}).items():
            for _ in requests:
                if sizes.get(table):
                    sizes[table].pop()
        written = [s for table_sizes in sizes.values() for s in table_sizes]
        facts.update(w=len(written), ws=sum(written), wu=sum(write_units(s) for s in written))
    return facts


class CallLog:
    """One process's calls, appended line by line to ``<directory>/<source>.<pid>.calls.jsonl``."""

    def __init__(self, directory: str, source: str) -> None:
        self.source = source
        path = os.path.join(directory, f"{_safe(source)}.{os.getpid()}{FILE_SUFFIX}")
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: dict) -> None:
        os.write(self.fd, (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8"))

    # botocore event handlers ----------------------------------------------------------------------
    def before_call(self, model=None, params=None, context=None, **_):
        try:
            context[_FACTS] = request_facts(model.service_model.service_name, model.name, params or {})
        except Exception:  # noqa: BLE001 - counting must never break the call it counts
            context[_FACTS] = {}

    def after_call(self, model=None, parsed=None, context=None, http_response=None, **_):
        service, operation = model.service_model.service_name, model.name
        try:
            facts = response_facts(service, operation, parsed, dict((context or {}).get(_FACTS) or {}))
        except Exception:  # noqa: BLE001
            facts = {}
        facts.pop("_sizes", None)
        failed = http_response is not None and getattr(http_response, "status_code", 200) >= 300
        self.write({"fn": self.source, "s": service, "o": operation, **facts, **({"e": 1} if failed else {})})

    def after_call_error(self, event_name="", context=None, **_):
        # This event carries no model: the service id and operation are in its name.
        _, _, rest = event_name.partition(".")
        service, _, operation = rest.rpartition(".")
        self.write({"fn": self.source, "s": service, "o": operation, "e": 1})

    def handlers(self) -> list[tuple[str, object]]:
        return [("before-call", self.before_call), ("after-call", self.after_call),
                ("after-call-error", self.after_call_error)]


def count_client(client, directory: str, source: str) -> CallLog:
    """Count the calls of one botocore client (the bench's producer)."""
    log = CallLog(directory, source)
    for event, handler in log.handlers():
        client.meta.events.register(event, handler)
    return log


def install_in_worker(environ=os.environ) -> CallLog | None:
    """Count every client this process will make, when it is a Lambda worker of a counting bench."""
    directory, function = environ.get(DIR_VARIABLE), environ.get(FUNCTION_VARIABLE)
    if not directory or not function:
        return None
    import botocore.handlers

    log = CallLog(directory, function)
    # botocore copies these into every Session it creates, so every client the handler makes has them.
    botocore.handlers.BUILTIN_HANDLERS.extend(log.handlers())
    return log


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


if __name__ == "sitecustomize":
    try:
        install_in_worker()
    except Exception:  # noqa: BLE001 - a broken counter must not stop the interpreter from starting
        pass
