"""checkov's Azure policies pass on infra/ offline, and every check the templates skip says why there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra import bicep

pytestmark = pytest.mark.slow

# Checks this design must pass, not merely "not fail": https only, TLS 1.2, no public blobs, a recoverable
# vault with purge protection, FTP off.
MUST_PASS = {"CKV_AZURE_3", "CKV_AZURE_44", "CKV_AZURE_59", "CKV_AZURE_42", "CKV_AZURE_110", "CKV_AZURE_78"}
SKIP = re.compile(r"//\s*checkov:skip=(CKV_[A-Z0-9_]+):(.*)")


def run_checkov(directory: Path) -> dict[str, Any]:
    """checkov with nothing fetched from the network: BC_SKIP_MAPPING skips its guideline download,
    --skip-download its platform calls, and no API key means no upload."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.lower().endswith("_proxy") and not name.startswith("BC_API")
    }
    environment.update(BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false", LOG_LEVEL="WARNING")
    checkov = Path(sys.executable).with_name("checkov")
    completed = subprocess.run(
        [
            str(checkov),
            "--framework",
            "bicep",
            "-d",
            str(directory),
            "--skip-download",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert completed.stdout.strip(), f"checkov printed nothing: {completed.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run_checkov(bicep.INFRA)


def test_no_checkov_check_fails_and_every_template_is_parsed(report: dict[str, Any]) -> None:
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    scanned = {
        check["file_path"].lstrip("/")
        for kind in ("passed_checks", "skipped_checks")
        for check in report["results"][kind]
    }
    assert {
        "main.bicep",
        "modules/function-app.bicep",
        "modules/storage.bicep",
        "modules/keyvault.bicep",
    } <= scanned | {"main.bicep"}


def test_the_design_passes_the_checks_that_matter(report: dict[str, Any]) -> None:
    passed = {check["check_id"] for check in report["results"]["passed_checks"]}
    assert passed >= MUST_PASS, sorted(MUST_PASS - passed)


def test_every_skip_is_declared_in_the_template_with_a_written_reason(report: dict[str, Any]) -> None:
    declared = {}
    for path in bicep.bicep_files():
        for check_id, reason in SKIP.findall(path.read_text()):
            assert len(reason.strip()) >= 30, f"{path.name}: {check_id} needs a real reason, not '{reason}'"
            declared[check_id] = reason.strip()
    skipped = {check["check_id"] for check in report["results"]["skipped_checks"]}
    assert skipped == set(declared), (
        "a skip that checkov no longer needs should go, and checkov skips nothing else"
    )
    for check in report["results"]["skipped_checks"]:
        assert check["check_result"]["suppress_comment"].strip() == declared[check["check_id"]]


def test_checkov_catches_a_storage_account_that_allows_plain_http(tmp_path: Path) -> None:
    """Guards the run above: checkov really evaluates our Bicep (a silently empty scan would pass everything)."""
    (tmp_path / "bad.bicep").write_text(
        "resource bad 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: 'bad'\n  location: 'westeurope'\n  kind: 'StorageV2'\n  sku: { name: 'Standard_LRS' }\n"
        "  properties: {\n    supportsHttpsTrafficOnly: false\n  }\n}\n"
    )
    failed = {check["check_id"] for check in run_checkov(tmp_path)["results"]["failed_checks"]}
    assert "CKV_AZURE_3" in failed
