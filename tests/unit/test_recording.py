import io
import json

from producer.recording import read_lines, write_tick


def test_lines_are_kept_verbatim_with_their_partition_key(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"symbol": "msft", "lastPrice": 1}\n\n{broken\n[1]\n')
    lines = list(read_lines([path]))
    assert [(l.line_number, l.partition_key, l.data) for l in lines] == [
        (1, "MSFT", b'{"symbol": "msft", "lastPrice": 1}'),
        (3, "unknown", b"{broken"),
        (4, "unknown", b"[1]"),
    ]


def test_written_ticks_read_back(tmp_path):
    buffer = io.StringIO()
    write_tick(buffer, {"symbol": "AAPL", "lastPrice": 1.5})
    path = tmp_path / "r.jsonl"
    path.write_text(buffer.getvalue())
    assert [json.loads(l.data) for l in read_lines([path])] == [{"symbol": "AAPL", "lastPrice": 1.5}]
    assert json.loads(buffer.getvalue()) == {"symbol": "AAPL", "lastPrice": 1.5}
