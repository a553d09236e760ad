from __future__ import annotations

import os
import subprocess
import sys
import time

from tickstack.bench.memory import PeakMemory, _WORKER, process_group_rss, process_rss


def test_a_worker_is_named_by_its_function_from_the_directory_it_runs_in() -> None:
    command = "/venv/bin/python3 /tmp/ministack-lambda-bench-StockTrendAnalysis-dfybgmnj/_worker"
    assert _WORKER.search(command)["function"] == "bench-StockTrendAnalysis"


def test_the_group_leader_is_the_emulator_and_each_member_is_counted() -> None:
    # A leader in its own process group, with one child that holds about 30 MB
    code = ("import subprocess, sys, time; child = subprocess.Popen([sys.executable, '-c', "
            "'import time; block = bytearray(30_000_000); time.sleep(30)']); time.sleep(30)")
    leader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(process_rss(leader.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        by_process = process_rss(leader.pid)
        assert "emulator" in by_process and len(by_process) == 2
        (child,) = [name for name in by_process if name != "emulator"]
        assert child.startswith("pid ") and by_process[child] > 30_000_000
        assert process_group_rss(leader.pid) > by_process[child]

        with PeakMemory(leader.pid, interval=0.05) as memory:
            time.sleep(0.3)
        assert memory.peak == sum(memory.at_peak.values()) and memory.at_peak.keys() == by_process.keys()
    finally:
        os.killpg(leader.pid, 9)
        leader.wait()
