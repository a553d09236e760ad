"""A local page that follows the pipeline live: counters, alerts, rejections, function metrics, charts.

    from tickstack.dashboard import InMemorySource, serve
    serve(InMemorySource())          # http://127.0.0.1:8050/ until Ctrl-C

A source implements `DashboardSource` (see `source.py`); a deployed stack's is
`tickstack.dashboard.stack_source.StackSource`, which `tickstack dashboard` serves.
"""

from tickstack.dashboard.server import Dashboard, DashboardServer, serve
from tickstack.dashboard.source import (
    AlertRecord,
    DashboardSource,
    FunctionStats,
    InMemorySource,
    RejectedRecord,
    Snapshot,
    SymbolData,
    SymbolStatus,
)

__all__ = [
    "AlertRecord",
    "Dashboard",
    "DashboardServer",
    "DashboardSource",
    "FunctionStats",
    "InMemorySource",
    "RejectedRecord",
    "Snapshot",
    "SymbolData",
    "SymbolStatus",
    "serve",
]
