"""checkov's Kubernetes checks pass on the generated output, but for documented exceptions.

One checkov run over two golden outputs: the shipped example (the default
build) and ``access-exposed`` (every endpoint behind a load balancer). Every
failed check must be listed, with its reason, in the "Scanner exceptions"
table of docs/security.md, and every listed check must still fail (else the
table is stale). checkov runs offline: no download from its platform, no
update check, and a proxy on a closed loopback port catches anything else.
With CI=true a missing checkov fails the test (tests/validators.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from tests import validators
from tests.conftest import CASES, REPO

SCANNED = [CASES / "example" / "expected", CASES / "access-exposed" / "expected"]
DOCS = REPO / "docs" / "security.md"
_ROW = re.compile(r"^\| (CKV2?_K8S_\d+) \|", re.MULTILINE)


def documented_exceptions() -> set[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Scanner exceptions", 1)[1].split("\n## ", 1)[0]
    found = set(_ROW.findall(section))
    assert found, "docs/security.md lists no scanner exceptions"
    return found


def json_documents(text: str) -> list[Any]:
    """checkov prints one JSON document per scanned directory, back to back."""
    decoder = json.JSONDecoder()
    docs, position = [], 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        doc, position = decoder.raw_decode(text, position)
        docs.append(doc)
    return docs


def run_checkov() -> list[dict[str, Any]]:
    """checkov's report for each scanned directory."""
    checkov = validators.require_tool("checkov")
    closed = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "BC_SKIP_MAPPING": "TRUE",
        "HTTPS_PROXY": closed,
        "HTTP_PROXY": closed,
        "NO_PROXY": "",
    }
    argv = [checkov, "--framework", "kubernetes", "--skip-download", "--quiet", "-o", "json"]
    for directory in SCANNED:
        argv += ["-d", str(directory)]
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=300, check=False, cwd=REPO
    )
    # checkov exits 1 when any check fails; anything else is a crash.
    assert proc.returncode in {0, 1}, proc.stderr
    reports = json_documents(proc.stdout)
    assert reports and all(r["check_type"] == "kubernetes" for r in reports), proc.stdout[:500]
    return reports


@pytest.mark.slow
def test_checkov_finds_only_documented_exceptions() -> None:
    reports = run_checkov()
    # A run that silently scanned nothing would pass every assertion below.
    assert all(report["summary"]["passed"] > 200 for report in reports)
    failed = [check for report in reports for check in report["results"]["failed_checks"]]
    documented = documented_exceptions()
    undocumented = sorted(
        {
            f"{check['check_id']} {check['check_name']} ({check['resource']})"
            for check in failed
            if check["check_id"] not in documented
        }
    )
    assert not undocumented, "checkov failures not in docs/security.md:\n" + "\n".join(undocumented)
    stale = documented - {check["check_id"] for check in failed}
    assert not stale, f"docs/security.md lists exceptions that no longer fail: {sorted(stale)}"
