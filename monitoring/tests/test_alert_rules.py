"""The Prometheus files in monitoring/prometheus/, checked by promtool (Debian's `prometheus`
package; scripts/test.sh installs it when missing)."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS_DIR = Path(__file__).resolve().parents[1] / "prometheus"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package `prometheus`; "
                                                          "scripts/test.sh installs it when run as root)")


def promtool(*args, cwd=PROMETHEUS_DIR):
    done = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_alert_rules_are_valid():
    assert "SUCCESS: 13 rules found" in promtool("check", "rules", "alerts.yml")


def test_each_alert_fires_on_trouble_and_stays_silent_on_healthy_series():
    """alerts.test.yml: promtool's unit tests, one scenario per alert."""
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_unit_test():
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())
    firing = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert alerts == firing


def test_the_scrape_config_is_valid_and_loads_the_rules(tmp_path):
    """The full check (not --syntax-only): the rule file resolves and the token file is read.
    The token file lives where compose mounts it; here a copy points at a scratch one."""
    token = tmp_path / "token"
    token.write_text("scrape-token\n")
    config = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    assert config.count("/run/secrets/firstcome_metrics_token") == 1
    (tmp_path / "prometheus.yml").write_text(config.replace("/run/secrets/firstcome_metrics_token", str(token)))
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path)
    out = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert "SUCCESS: 13 rules found" in out


def test_the_web_scrape_sends_the_metrics_token_as_a_bearer_credential():
    jobs = {job["job_name"]: job for job in yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["scrape_configs"]}
    assert jobs["firstcome-web"]["authorization"] == {
        "type": "Bearer", "credentials_file": "/run/secrets/firstcome_metrics_token"}
    assert set(jobs) == {"firstcome-web", "firstcome-consumers", "firstcome-readiness"}
