"""docker-compose.yml, read as Docker Compose would (Docker itself is not available here)."""
import re
from pathlib import Path

import dj_database_url
import yaml
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def default(value):
    """A compose value with ${VAR:-default} interpolations resolved to their defaults."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def published(service, container_port):
    for mapping in SERVICES[service]["ports"]:
        host, _, container = default(mapping).rpartition(":")
        if int(container) == container_port:
            return int(host)
    raise AssertionError(f"{service} does not publish {container_port}")


def test_kafka_and_mysql_only_each_with_a_health_check():
    assert set(SERVICES) == {"kafka", "mysql"}
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert re.fullmatch(r"mysql:8(\.\d+)*", SERVICES["mysql"]["image"])
    for name, service in SERVICES.items():
        check = service["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and check["test"][1:], name
        assert check["retries"] >= 10 and check["start_period"], name
        assert all(volume.split(":")[0] in COMPOSE["volumes"] or (BASE_DIR / volume.split(":")[0]).exists()
                   for volume in service["volumes"]), name


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
