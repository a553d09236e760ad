"""The embedded emulator starts on loopback only, answers its health check, and leaves nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.conftest import free_port
from tickstack.errors import EmulatorError
from tickstack.targets.ministack import MiniStack
from tickstack.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator(tmp_path):
    ministack = MiniStack(Settings(home=tmp_path, port=free_port(), region="us-east-1", name_prefix="it"))
    yield ministack
    ministack.stop(print)


def _group_members(pgid: int) -> list[str]:
    listing = subprocess.run(["ps", "-o", "pid=,pgid=", "-e"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if line.split()[1] == str(pgid)]


def test_starts_healthy_on_loopback_only_and_stops_without_leftovers(emulator):
    emulator.start(print)
    pid = int(emulator.pid_file.read_text())
    assert emulator.healthy()
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{emulator.settings.port}"],
                               capture_output=True, text=True, check=True).stdout
    local_addresses = {line.split()[3] for line in listening.splitlines()}
    assert local_addresses == {f"127.0.0.1:{emulator.settings.port}"}

    emulator.stop(print)
    assert not emulator.healthy()
    assert not emulator.running()
    assert _group_members(pid) == []


def test_second_start_reuses_the_running_emulator(emulator):
    emulator.start(print)
    first = emulator.pid_file.read_text()
    said: list[str] = []
    emulator.start(said.append)
    assert len(said) == 1 and "already running" in said[0]
    assert emulator.pid_file.read_text() == first


def test_a_foreign_server_on_the_port_is_reported(emulator):
    with socket.socket() as server:
        server.bind(("127.0.0.1", emulator.settings.port))
        server.listen()
        # A listener that is not MiniStack: the health probe fails, the start must refuse clearly.
        os.environ.pop("GATEWAY_PORT", None)
        with pytest.raises(EmulatorError):
            emulator.start(print, timeout=10)
