"""The README's performance figures are those of the committed bench results, not remembered ones."""

from __future__ import annotations

import json

from tests.conftest import ROOT


def performance_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Performance")
    return readme[start:readme.index("\n## ", start + 1)]


def test_the_readme_quotes_bench_results_latest_json() -> None:
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    alert = results["latency_ms"]["put_to_alert"]
    cost = results["monthly_cost_usd"]
    at_peak = results["rss_at_pipeline_peak_mb"]
    quoted = [
        f"{results['ticks']:,} real daily bars",
        f"{results['ticks_per_s']} / {results['ceiling_ticks_per_s']} ticks/s: {results['ratio_to_ceiling']} of the ceiling",
        f"{alert['p50']} / {alert['p95']} ms",
        f"{results['s3_puts_per_tick']} / {round(results['ddb_items_read_per_tick'], 3)}",
        f"{results['alerts_expected']} / {results['alerts_seen']} / {results['alerts_correct']}",
        f"{results['peak_rss_mb']} MB (emulator {at_peak['emulator']}, workers "
        f"{' and '.join(str(mb) for name, mb in sorted(at_peak.items()) if name != 'emulator')})",
        f"${cost['this_design']}, against ${cost['reference']}",
        f"({round(cost['ratio'], 2)})",
    ]
    section = performance_section()
    assert [q for q in quoted if q not in section] == []
