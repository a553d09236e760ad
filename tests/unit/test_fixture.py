"""The shipped recording is what the script regenerates from the published source data."""

import json
from decimal import Decimal

from tests.conftest import FIXTURE
from tickstack.ops import sample_data



def test_fixture_is_regenerated_byte_for_byte(tmp_path):
    rows = sample_data.bars(sample_data.source_path(), "AAPL")
    ticks = sample_data.ticks(rows, "AAPL", sample_data.date(2012, 9, 4), sample_data.date(2012, 12, 28))
    assert "".join(json.dumps(t) + "\n" for t in ticks) == FIXTURE.read_text()


def test_fixture_is_80_daily_closes_stamped_at_the_new_york_close():
    ticks = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    assert len(ticks) == 80
    assert ticks[0]["timestamp"] == "2012-09-04T20:00:00Z"  # 16:00 EDT
    assert ticks[-1]["timestamp"] == "2012-12-28T21:00:00Z"  # 16:00 EST
    assert all(a["lastPrice"] == b["previousClose"] for a, b in zip(ticks, ticks[1:]))


def test_fixture_averages_never_come_within_rounding_of_each_other():
    prices = [Decimal(str(json.loads(line)["lastPrice"])) for line in FIXTURE.read_text().splitlines()]
    gaps = [abs(sum(prices[i - 4:i + 1]) / 5 - sum(prices[i - 19:i + 1]) / 20) for i in range(19, len(prices))]
    assert min(gaps) > Decimal("3.5")
