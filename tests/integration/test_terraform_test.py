"""`terraform test` plans and applies the root against a mocked aws provider, offline.

terraform/tests/aws.tftest.hcl asserts the aws target's promises (no endpoint overrides, each
role's actions and resources, the bucket's settings, alarms, failed-batch destinations);
terraform/tests/emulator.tftest.hcl asserts the emulator targets.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.test_terraform_static import initialised, terraform  # noqa: F401  (initialised is a fixture)

pytestmark = pytest.mark.integration


def test_terraform_test_passes_every_run(initialised):
    result = terraform("test", "-no-color", data_dir=initialised, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    summary = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
    assert summary is not None, result.stdout
    passed, failed = map(int, summary.groups())
    assert failed == 0
    # Both files ran: the aws runs and the emulator runs.
    assert "tests/aws.tftest.hcl... pass" in result.stdout
    assert "tests/emulator.tftest.hcl... pass" in result.stdout
    assert passed >= 17
