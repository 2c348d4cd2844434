"""The Grafana dashboard and the alert rules read only metrics the application exports: every
metric their PromQL names is in a real scrape of gunicorn's /metrics or a consumer's
--metrics-port, on the job that scrapes it (or comes from Prometheus or the blackbox exporter)."""
import json
import re
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lab.embedded import free_port, port_open
from testsupport.factories import CampaignFactory
from testsupport.polling import poll
from testsupport.web import call, metric_value, start_gunicorn

MONITORING = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
ALERTS = MONITORING / "prometheus" / "alerts.yml"
JOBS = {job["job_name"] for job in yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]}
# Series that Prometheus itself or the blackbox exporter writes, not the application.
NOT_THE_APP = {"up": None, "probe_success": "firstcome-readiness"}
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")
TOKEN = "metrics-token-for-the-dashboard-test-0123456789"

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan"}


def selectors(expr: str) -> list[tuple[str, str | None]]:
    """(metric name, job it is matched on or None) for each series selector of a PromQL expression.
    Enough of PromQL for hand-written dashboards and rules: function calls, grouping clauses,
    ranges and Grafana's $variables are not metric names."""
    matchers = []

    def keep_matchers(match):
        matchers.append(match[1])
        return f"#{len(matchers) - 1}#"

    expr = re.sub(r"\{([^}]*)\}", keep_matchers, expr)
    expr = re.sub(r"\[[^\]]*\]|\$\w+", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = []
    for name, _, index in re.findall(r"(?<![\w:.#])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()(\s*#(\d+)#)?", expr):
        if name.lower() in _KEYWORDS:
            continue
        job = re.search(r'\bjob\s*=\s*"([^"]*)"', matchers[int(index)]) if index else None
        found.append((name, job[1] if job else None))
    return found


def dashboard_expressions(path: Path) -> list[str]:
    panels = json.loads(path.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", ())]


def alert_expressions() -> list[str]:
    return [rule["expr"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_selectors_finds_the_metric_names_and_their_job():
    assert selectors('histogram_quantile(0.99, sum by (le, view) (rate(a_bucket{job="w", x=~"y"}[$__rate_interval])))'
                     ) == [("a_bucket", "w")]
    assert selectors("sum by (instance) (b) > 0 unless on (instance) rate(c_total[5m]) > 0 and d offset 5m"
                     ) == [("b", None), ("c_total", None), ("d", None)]


def family_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name} | {sample.name for sample in family.samples}
    return names


def scrape(url, *, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.request.urlopen(urllib.request.Request(f"{url}/metrics", headers=headers), timeout=5).read().decode()


@pytest.fixture
def exported(processes, child_env, settings):
    """{job: metric names} from gunicorn and a consume_firstcome that have each handled one
    accepted and one refused participation; gunicorn scraped with the token, as Prometheus does."""
    campaign = CampaignFactory(total_stock=5)
    env = child_env(FIRSTCOME_METRICS_TOKEN=TOKEN)
    web, base_url = start_gunicorn(processes, env)
    port = free_port()
    consumer_url = f"http://127.0.0.1:{port}"
    processes("consume_firstcome", "--metrics-port", str(port), "--metrics-addr", "127.0.0.1", env=env)
    assert call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations", body={"user_id": "u1"})[0] == 202
    assert call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations", body={"user_id": ""})[0] == 400

    def decided():
        if not port_open("127.0.0.1", port):
            return False
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(scrape(consumer_url)) for s in f.samples}
        return metric_value(samples, "firstcome_decisions_total", outcome="SUCCESS") == 1

    poll(decided, timeout=60, message="the consumer decided the request")
    yield {"firstcome-web": family_names(scrape(base_url, token=TOKEN)),
           "firstcome-consumers": family_names(scrape(consumer_url))}
    assert web.stop() == 0


def unknown_metrics(expressions, exported):
    every = set().union(*exported.values())
    unknown = set()
    for expr in expressions:
        for name, job in selectors(expr):
            if name in NOT_THE_APP:
                if NOT_THE_APP[name] not in (None, job) or (job and job not in JOBS):
                    unknown.add((name, job))
                continue
            names = exported.get(job, set()) if job else every
            if not any(name.removesuffix(suffix) in names and name.endswith(suffix) for suffix in SUFFIXES):
                unknown.add((name, job))
    return unknown


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_dashboard_and_the_alerts_name_only_exported_metrics(exported):
    assert DASHBOARDS
    for path in DASHBOARDS:
        assert unknown_metrics(dashboard_expressions(path), exported) == set(), path.name
    assert unknown_metrics(alert_expressions(), exported) == set()
    # and the check does see a wrong name
    assert unknown_metrics(['rate(firstcome_ingest_requests_totl{job="firstcome-web"}[1m])',
                            'firstcome_consumer_lag_messages{job="firstcome-web"}'], exported) == {
        ("firstcome_ingest_requests_totl", "firstcome-web"), ("firstcome_consumer_lag_messages", "firstcome-web")}


def test_every_dashboard_panel_queries_a_scraped_job():
    for path in DASHBOARDS:
        jobs = {job for expr in dashboard_expressions(path) for _, job in selectors(expr) if job}
        assert jobs <= JOBS, path.name
        assert all(selectors(expr) for expr in dashboard_expressions(path)), path.name
