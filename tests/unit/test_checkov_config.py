"""checkov's skips live in one file, .checkov.yaml, each with its reason; `make lint` passes it.

checkov skips a check for the whole template, so the two skips that hold for some resources of a kind only are
checked here per resource: point-in-time recovery (CKV_AWS_28) stays on every table that is not derived data or
the personal-data key table, and key rotation (CKV_AWS_7) on every KMS key but the HMAC key.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chronicle.local.stack import load_template
from chronicle.projections.registry import READ_MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIG_TEXT = (ROOT / ".checkov.yaml").read_text()
RESOURCES = load_template(ROOT / "template.yaml")["Resources"]
NO_PITR = {m.table_resource for m in READ_MODELS.values()} | {"SnapshotTable", "PersonalDataKeysTable"}


def test_every_skip_has_its_reason_right_above_it():
    skipped = yaml.safe_load(CONFIG_TEXT)["skip-check"]
    assert skipped and len(skipped) == len(set(skipped))
    for check in skipped:
        reason = re.search(rf"^ *# {re.escape(check)}: (.+)\n *- {re.escape(check)}$", CONFIG_TEXT, re.M)
        assert reason and len(reason.group(1)) > 30, f"{check} needs '# {check}: <reason>' right above it"


def test_no_skip_is_left_in_the_template_and_make_lint_passes_the_config():
    assert not [name for name, r in RESOURCES.items() if "checkov" in r.get("Metadata", {})]
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "checkov --config-file .checkov.yaml -f template.yaml" in lint


def test_point_in_time_recovery_is_off_only_where_the_skip_says():
    tables = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::DynamoDB::Table"}
    assert set(tables) >= NO_PITR
    for name, properties in tables.items():
        enabled = properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        assert bool(enabled) == (name not in NO_PITR), name


def test_only_the_hmac_key_does_not_rotate():
    keys = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::KMS::Key"}
    assert {name for name, p in keys.items() if not p.get("EnableKeyRotation")} == {"EmailMacKey"}
    assert keys["EmailMacKey"]["KeySpec"].startswith("HMAC_")
