"""Named SQL queries over the archive (athena/queries.sql), run through Athena on any target."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tickstack.errors import TickstackError
from tickstack.settings import PROJECT_ROOT
from tickstack.targets import Target
from tickstack.waiting import wait_until

QUERIES_FILE = PROJECT_ROOT / "athena" / "queries.sql"
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


class QueryFailed(TickstackError):
    pass


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str

    def for_table(self, table: str) -> str:
        return self.sql.replace("{table}", table).rstrip().rstrip(";")


def load_queries(path: Path = QUERIES_FILE) -> dict[str, NamedQuery]:
    text = path.read_text()
    marks = list(_NAME.finditer(text))
    queries = {}
    for mark, following in zip(marks, marks[1:] + [None]):
        body = text[mark.end():following.start() if following else len(text)].strip("\n")
        lines = body.splitlines()
        comments = [line[2:].strip() for line in lines if line.startswith("--")]
        sql = "\n".join(line for line in lines if not line.startswith("--")).strip()
        queries[mark.group(1)] = NamedQuery(mark.group(1), " ".join(comments), sql)
    return queries


def run_query(target: Target, sql: str, timeout: float = 120.0) -> tuple[list[str], list[list[str | None]]]:
    """Run ``sql`` in the archive's Glue database; return column names and rows as text."""
    outputs = target.outputs
    if not outputs.get("glue_table"):
        raise QueryFailed(f"the Glue table is switched off on {target.name}, so Athena has nothing to query")
    athena = target.client("athena")
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": outputs["glue_database"]},
        ResultConfiguration={"OutputLocation": f"s3://{outputs['bucket_name']}/athena-results/"},
    )["QueryExecutionId"]

    def finished():
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        return status if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    status = wait_until(finished, timeout=timeout, what=f"Athena query {query_id}")
    if status["State"] != "SUCCEEDED":
        raise QueryFailed(f"Athena query {status['State'].lower()}: {status.get('StateChangeReason', '')}")
    columns: list[str] = []
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        if not columns:
            columns = [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
        rows.extend([d.get("VarCharValue") for d in row["Data"]] for row in page["ResultSet"]["Rows"])
    # Athena repeats the header as the first row of the first page.
    if rows and rows[0] == columns:
        rows = rows[1:]
    return columns, rows
