"""docker-compose.yml, read as Docker Compose would (Docker itself is not available here)."""
import json
import re
from pathlib import Path

import dj_database_url
import yaml
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
MONITORING = {"prometheus", "blackbox", "grafana"}


def default(value):
    """A compose value with ${VAR:-default} interpolations resolved to their defaults."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def published(service, container_port):
    for mapping in SERVICES[service]["ports"]:
        host, _, container = default(mapping).rpartition(":")
        if int(container) == container_port:
            return int(host)
    raise AssertionError(f"{service} does not publish {container_port}")


def test_kafka_and_mysql_by_default_monitoring_by_profile_each_with_a_health_check():
    assert {name for name, service in SERVICES.items() if "profiles" not in service} == {"kafka", "mysql"}
    assert {name for name, service in SERVICES.items() if service.get("profiles") == ["monitoring"]} == MONITORING
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert re.fullmatch(r"mysql:8(\.\d+)*", SERVICES["mysql"]["image"])
    for name, service in SERVICES.items():
        check = service["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and check["test"][1:], name
        assert check["retries"] >= 10 and check["start_period"], name
        assert all(volume.split(":")[0] in COMPOSE["volumes"] or (BASE_DIR / volume.split(":")[0]).exists()
                   for volume in service.get("volumes", ())), name


def test_kafka_is_a_single_kraft_node_advertised_on_the_published_port():
    env = SERVICES["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@localhost:9093"
    assert not any("ZOOKEEPER" in key for key in env)
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1  # one node: one replica
    advertised = default(env["KAFKA_ADVERTISED_LISTENERS"])
    assert advertised == f"PLAINTEXT://127.0.0.1:{published('kafka', 9092)}"


def test_the_application_environment_points_at_these_services():
    app = COMPOSE["x-firstcome-env"]
    mysql = SERVICES["mysql"]["environment"]
    db = dj_database_url.parse(app["DATABASE_URL"])
    assert (db["USER"], db["PASSWORD"], db["NAME"]) == (mysql["MYSQL_USER"], mysql["MYSQL_PASSWORD"], mysql["MYSQL_DATABASE"])
    assert db["PORT"] == published("mysql", 3306)
    assert app["KAFKA_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{published('kafka', 9092)}"
    assert "--character-set-server=utf8mb4" in SERVICES["mysql"]["command"]
    # the same commands as the header comment tells users to run
    header = (BASE_DIR / "docker-compose.yml").read_text().split("services:")[0]
    assert f"DATABASE_URL={app['DATABASE_URL']}" in header
    assert f"KAFKA_BOOTSTRAP_SERVERS={app['KAFKA_BOOTSTRAP_SERVERS']}" in header


def mounts(service):
    """{path in the container: path on the host} of a service's bind mounts."""
    return {target: BASE_DIR / source for source, target, *_ in (v.split(":") for v in SERVICES[service]["volumes"])
            if source.startswith("./")}


def test_prometheus_loads_the_repository_config_and_alert_rules():
    config_flag = next(arg for arg in SERVICES["prometheus"]["command"] if arg.startswith("--config.file="))
    config_dir = mounts("prometheus")["/etc/prometheus"]
    config = yaml.safe_load((config_dir / Path(config_flag.partition("=")[2]).name).read_text())
    assert config_dir == BASE_DIR / "monitoring" / "prometheus"
    assert [(config_dir / rules).is_file() for rules in config["rule_files"]] == [True]


def test_prometheus_reaches_the_app_on_the_host_with_the_metrics_token():
    config = yaml.safe_load((BASE_DIR / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in ("prometheus", "blackbox"):  # host.docker.internal on Linux too
        assert "host.docker.internal:host-gateway" in SERVICES[service]["extra_hosts"]
    targets = [target for job in jobs.values() for static in job["static_configs"] for target in static["targets"]]
    assert targets and all(target.removeprefix("http://").startswith("host.docker.internal:") for target in targets)
    # the token file is the compose secret holding the variable the application reads
    (secret,) = SERVICES["prometheus"]["secrets"]
    assert jobs["firstcome-web"]["authorization"]["credentials_file"] == f"/run/secrets/{secret}"
    assert COMPOSE["secrets"][secret] == {"environment": "FIRSTCOME_METRICS_TOKEN"}
    assert hasattr(settings, "FIRSTCOME_METRICS_TOKEN")
    # /readyz goes through the blackbox service
    (relabel,) = [r for r in jobs["firstcome-readiness"]["relabel_configs"] if r["target_label"] == "__address__"]
    host, port = relabel["replacement"].split(":")
    assert host in SERVICES and port == "9115"


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboards():
    grafana = mounts("grafana")
    provisioning = grafana["/etc/grafana/provisioning"]
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090"  # the service's own port, inside the compose network
    assert published("prometheus", 9090) and published("grafana", 3000)
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "firstcome.yml").read_text())["providers"]
    dashboards = grafana[provider["options"]["path"]]
    assert dashboards == BASE_DIR / "monitoring" / "grafana" / "dashboards"
    for path in dashboards.glob("*.json"):
        panels = json.loads(path.read_text())["panels"]
        uids = {panel["datasource"]["uid"] for panel in panels if "datasource" in panel}
        assert uids == {datasource["uid"]}, path
    assert SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].startswith(
        provider["options"]["path"] + "/")
