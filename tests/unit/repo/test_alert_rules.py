"""deploy/prometheus/alerts.yml: valid for promtool, loaded by prometheus.yml, firing as meant."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (apt install prometheus)")
    return found


def test_prometheus_yml_loads_the_rules_and_compose_mounts_them() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose


def test_promtool_accepts_the_rules() -> None:
    checked = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_drift_alert_fires_after_15_minutes_above_0_2_only(tmp_path: Path) -> None:
    cases = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'spectrum_drift_psi{model="drifting"}', "values": "0.5x30"},
                    {"series": 'spectrum_drift_psi{model="steady"}', "values": "0.1x30"},
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "SpectrumLabelDrift", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "SpectrumLabelDrift",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "model": "drifting"},
                                "exp_annotations": {
                                    "summary": "Label drift on drifting (PSI 0.50)",
                                    "description": "The label shares of drifting over the "
                                    "last hour differ from the week before it. GET "
                                    "/v1/analytics/drift?model=drifting shows both windows.",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    spec = tmp_path / "alerts.test.yml"
    spec.write_text(yaml.safe_dump(cases), encoding="utf-8")
    tested = subprocess.run(
        [promtool(), "test", "rules", str(spec)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
