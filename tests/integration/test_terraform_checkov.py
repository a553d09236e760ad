"""checkov over the Terraform: no finding left unexplained.

checkov runs from .venv-lint (`make lint-venv`, a prerequisite of `make test`): its pins clash
with MiniStack's botocore, so it never shares .venv. Each accepted finding is suppressed inline,
next to the resource, as `#checkov:skip=CKV_...:reason`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tickstack.settings import PROJECT_ROOT
from tickstack.deploy.terraform import TERRAFORM_DIR

pytestmark = pytest.mark.integration

LINT_VENV = Path(os.environ.get("TICKSTACK_LINT_VENV") or PROJECT_ROOT / ".venv-lint")
CHECKOV = LINT_VENV / "bin" / "checkov"
SUPPRESSION = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
# A reason says why the finding does not apply here, not merely that it is skipped.
SHORTEST_REASON = 40


@pytest.fixture(scope="module")
def report():
    if not CHECKOV.exists():
        # Not a skip: a missing checkov would leave the Terraform unchecked while the run looked green.
        pytest.fail(f"{CHECKOV} is missing: `make lint-venv` creates it (`make test` does so first)")
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=300,
    )
    # Exit code 1 means failed checks; the report says which.
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)


def test_checkov_fails_nothing_and_parses_everything(report):
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
              for c in report["results"]["failed_checks"]]
    assert failed == [], "unexplained findings: " + "; ".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0


def test_every_skipped_finding_carries_its_reason(report):
    skipped = report["results"]["skipped_checks"]
    assert skipped, "expected the suppressions in terraform/*.tf to be honoured"
    for check in skipped:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= SHORTEST_REASON, f"{check['check_id']} on {check['resource']}: reason {reason!r}"


def test_every_suppression_in_the_terraform_is_explained():
    # Checked on the files themselves, so this holds even where checkov is not installed.
    suppressions = []
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = SUPPRESSION.search(line)
            if match:
                suppressions.append((f"{path.name}:{number}", match.group(1), (match.group(2) or "").strip()))
    assert suppressions
    unexplained = [where for where, _, reason in suppressions if len(reason) < SHORTEST_REASON]
    assert unexplained == []
    assert all(re.fullmatch(r"CKV2?_AWS_\d+", check_id) for _, check_id, _ in suppressions)
