"""The CloudWatch dashboard graphs the very metric names the functions emit, so it agrees with `tickstack dashboard`."""

from __future__ import annotations

import re

from tests.conftest import ROOT

# [local.metrics_ns, "Name", "service", ...] in terraform/monitoring.tf
_DASHBOARD_METRIC = re.compile(r'\[local\.metrics_ns,\s*"(\w+)"')
# metrics.add_metric(name="Name", ...) in a handler, or self._count("Name", ...) through the catch-up's counter
_EMITTED = re.compile(r'(?:add_metric\(name=|_count\()\s*"(\w+)"')


def emitted_metrics() -> set[str]:
    package = ROOT / "lambda" / "stock_pipeline"
    return {name for path in package.glob("*.py") for name in _EMITTED.findall(path.read_text())}


def test_every_custom_metric_on_the_dashboard_is_one_a_function_emits():
    graphed = set(_DASHBOARD_METRIC.findall((ROOT / "terraform" / "monitoring.tf").read_text()))
    assert graphed and graphed <= emitted_metrics(), graphed - emitted_metrics()


def test_the_counters_of_the_local_dashboard_are_graphed_on_aws():
    graphed = set(_DASHBOARD_METRIC.findall((ROOT / "terraform" / "monitoring.tf").read_text()))
    assert {"TicksProcessed", "RejectedTicks", "AlertsPublished"} <= graphed
