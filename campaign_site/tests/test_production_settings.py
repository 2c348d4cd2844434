"""campaign_site.settings.production with the example environment, in a child process (settings
are read once per process)."""
import json
import re
from pathlib import Path

from django.conf import settings

from testsupport.production import example_env, example_values, manage

BASE_DIR = Path(settings.BASE_DIR)
ENV_EXAMPLE = BASE_DIR / ".env.example"


def test_check_deploy_passes_with_the_example_environment_without_a_single_warning():
    run = manage("check", "--deploy", "--fail-level", "WARNING", env=example_env())
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues (0 silenced)." in run.stdout


def test_production_refuses_to_start_without_a_required_setting():
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        env = {k: v for k, v in example_env().items() if k != name}
        run = manage("check", env=env)
        assert run.returncode != 0, name
        assert f"{name} must be set in production (see .env.example)" in run.stderr, run.stderr


def test_production_refuses_the_example_secrets_of_env_example():
    examples = example_values()
    assert set(examples) == {"DJANGO_SECRET_KEY", "FIRSTCOME_METRICS_TOKEN"}
    for name, value in examples.items():
        run = manage("check", env={**example_env(), name: value})
        assert run.returncode != 0, name
        assert f"{name} is the example value from .env.example" in run.stderr, run.stderr
        assert value not in run.stderr + run.stdout  # the refusal names the setting, not its value


def test_production_requires_replication_unless_a_single_broker_is_declared():
    for replicas, in_sync in (("1", "1"), ("2", "1"), ("3", "1")):
        run = manage("check", env={**example_env(), "KAFKA_REPLICATION_FACTOR": replicas,
                                   "KAFKA_MIN_INSYNC_REPLICAS": in_sync})
        assert run.returncode != 0, (replicas, in_sync)
        assert "production needs at least 3 and 2" in run.stderr, run.stderr
    run = manage("check", env={**example_env(), "KAFKA_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "4"})
    assert run.returncode != 0 and "no write could be acknowledged" in run.stderr, run.stderr
    run = manage("check", env={**example_env(), "KAFKA_REPLICATION_FACTOR": "1", "KAFKA_MIN_INSYNC_REPLICAS": "1",
                               "KAFKA_SINGLE_BROKER": "true"})
    assert run.returncode == 0, run.stderr
    assert "KAFKA_SINGLE_BROKER is on" in run.stdout + run.stderr  # said at every start


def test_production_logs_one_json_object_per_line_on_stdout():
    run = manage("shell", "-v", "0", "-c", "import logging; logging.getLogger('firstcome').warning('hello %s', 'ops')",
                 env=example_env())
    assert run.returncode == 0, run.stderr
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("{")]
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["logger"] == "firstcome" and record["message"] == "hello ops"
    assert record["timestamp"].endswith("+00:00")


def variables_read(path):
    text = path.read_text()
    return set(re.findall(r'\benv\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', text)
               + re.findall(r'os\.environ(?:\.get)?[\[(]\s*"([A-Z][A-Z0-9_]*)"', text))


def test_env_example_lists_every_variable_the_application_reads():
    read = set()
    for path in [*(BASE_DIR / "campaign_site/settings").glob("*.py"), BASE_DIR / "gunicorn.conf.py",
                 BASE_DIR / "campaign_site/environment.py"]:
        read |= variables_read(path)
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert len(read) > 30
    assert read - listed == set(), "add these to .env.example, with a comment"
    for name in listed:  # and each with a comment right above it (or above its group)
        assert re.search(rf"#[^\n]*\n(?:#?\s?[A-Z_]+=[^\n]*\n)*#? ?{name}=", ENV_EXAMPLE.read_text()), name


def test_production_refuses_to_start_with_a_malformed_sign_in_failure_limit():
    run = manage("check", env={**example_env(), "FIRSTCOME_LOGIN_FAILURES_PER_CLIENT": "ten a minute"})
    assert run.returncode != 0
    assert "FIRSTCOME_LOGIN_FAILURES_PER_CLIENT='ten a minute': use N/<period>" in run.stderr, run.stderr


def test_production_connects_to_the_database_with_the_tls_options_of_database_url():
    run = manage("shell", "-v", "0", "-c", "from django.conf import settings; "
                 "import json; print(json.dumps(settings.DATABASES['default']['OPTIONS'], sort_keys=True))",
                 env=example_env())
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"charset": "utf8mb4", "isolation_level": "read committed",
                                      "ssl": {"ca": "/etc/firstcome/rds-global-bundle.pem"},
                                      "ssl_mode": "VERIFY_IDENTITY"}
