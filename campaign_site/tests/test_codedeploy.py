"""The CodeDeploy hooks (appspec.yml), run for real: a temporary app root, the local MariaDB, a
broker of the test's own, processes started from the rendered systemd units (no systemd here)."""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from django.conf import settings
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lab.embedded import EmbeddedBroker, free_port, port_open
from lab.processes import database_url
from testsupport.database import scratch_database
from testsupport.polling import poll
from testsupport.web import call, get, scrape_metrics

BASE_DIR = Path(settings.BASE_DIR)
APPSPEC = yaml.safe_load((BASE_DIR / "appspec.yml").read_text())
HOOKS = ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
# consume_stats comes with the statistics app; deploy it when this revision has it.
HAS_STATS_CONSUMER = (BASE_DIR / "stats/management/commands/consume_stats.py").exists()
CRONTAB_DOUBLE = """#!/bin/sh
# crontab(1) over one file: `-l` lists it, `crontab FILE` installs FILE (the machine's own crontab
# is not the test's to change). The path is written in: manage.py gets the env file's settings only.
if [ "$1" = -l ]; then cat '{crontab_file}' 2>/dev/null || {{ echo "no crontab" >&2; exit 1; }}
else cp "$1" '{crontab_file}'; fi
"""
# aws(1) answering `ssm get-parameters-by-path` from a JSON file {name under the path: value}, in
# the --output format asked for.
AWS_DOUBLE = """#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
assert args[:2] == ["ssm", "get-parameters-by-path"], args
path = args[args.index("--path") + 1]
with open(os.environ["FAKE_SSM_PARAMETERS"]) as file:
    pairs = [[f"{path}/{name}", value] for name, value in json.load(file).items()]
if args[args.index("--output") + 1] == "text":
    print("\\n".join("\\t".join(pair) for pair in pairs))
else:
    json.dump(pairs, sys.stdout)
"""


COMMON = BASE_DIR / "scripts/codedeploy/common.sh"


def hook_script(hook):
    (entry,) = APPSPEC["hooks"][hook]
    return BASE_DIR / entry["location"]


def test_appspec_names_every_hook_and_runs_each_as_root_with_a_timeout():
    assert APPSPEC["version"] == 0.0 and APPSPEC["os"] == "linux"
    assert list(APPSPEC["hooks"]) == HOOKS
    for hook in HOOKS:
        (entry,) = APPSPEC["hooks"][hook]
        assert entry["runas"] == "root" and 0 < entry["timeout"] <= 3600, hook
    assert APPSPEC["files"] == [{"source": "/", "destination": "/opt/firstcome/incoming"}]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_script_exists_is_executable_and_passes_bash_n_and_shellcheck(hook):
    script = hook_script(hook)
    assert script.is_file(), script
    assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()
    run = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert_shellcheck_clean(script)


def test_the_hooks_library_passes_shellcheck():
    # -x follows `. common.sh` from a hook but reports nothing inside it: checked on its own.
    assert_shellcheck_clean(COMMON)


def assert_shellcheck_clean(script):
    assert shutil.which("shellcheck"), "shellcheck is missing: scripts/test.sh installs it (apt-get install shellcheck)"
    run = subprocess.run(["shellcheck", "-x", str(script.relative_to(BASE_DIR))], cwd=BASE_DIR,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def common_sh(script, tmp_path, **env):
    """Run a bash snippet with common.sh sourced (direct service manager, units under tmp_path)."""
    return subprocess.run(["bash", "-c", f'. "{COMMON}"; {script}'], capture_output=True, text=True,
                          env={**os.environ, "FIRSTCOME_SERVICE_MANAGER": "direct",
                               "FIRSTCOME_APP_ROOT": str(tmp_path), **env})


@pytest.mark.parametrize("line", ["export X=1", "NO_EQUALS_SIGN", "1X=2", "X Y=1"])
def test_an_env_file_line_that_is_not_name_value_is_refused(tmp_path, line):
    env_file = tmp_path / "site.env"
    env_file.write_text(f"# settings\nGOOD='kept'\n{line}\n")  # refused even after a good line
    run = common_sh(f'load_env_file "{env_file}"', tmp_path)
    assert run.returncode == 1 and f"not a NAME=value line: {line}" in run.stderr, run.stdout + run.stderr


def test_an_env_file_line_is_read_as_systemd_would(tmp_path):
    env_file = tmp_path / "site.env"
    env_file.write_text("\n# a comment\nA='with spaces = and more'\nB=plain\n")
    run = common_sh(f'load_env_file "{env_file}"; printf "%s|%s" "$A" "$B"', tmp_path)
    assert (run.returncode, run.stdout) == (0, "with spaces = and more|plain"), run.stderr


PATH_PARTS = st.sampled_from(["var", "..", ".", "log", "firstcome", "firstcome-evil", "etc", "", "x y", "releases"])
PATH_STARTS = st.sampled_from(["/var/lib/firstcome", "/var/log/firstcome", "/var/lib/firstcome-evil", "/etc",
                               "/var/lib", "RELEASE", "RELEASE/..", "", "relative"])


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=PATH_STARTS, parts=st.lists(PATH_PARTS, max_size=4))
def test_a_directory_the_hook_gives_the_service_account_is_confined_to_the_applications_own(tmp_path, start, parts):
    """Generated paths, '..' and look-alike prefixes included: confined_dir accepts exactly the ones
    that resolve inside the release, /var/lib/firstcome or /var/log/firstcome, and says so."""
    release = tmp_path / "opt/firstcome/releases/d-1"
    path = "/".join([start.replace("RELEASE", str(release)), *parts])
    run = common_sh(f'RELEASE="{release}"; confined_dir TEST_DIR "{path}"', tmp_path)
    resolved = os.path.normpath(path) if path.startswith("/") else None
    inside = resolved is not None and (
        resolved.startswith(f"{release}/")
        or any(resolved == root or resolved.startswith(f"{root}/") for root in ("/var/lib/firstcome", "/var/log/firstcome")))
    assert (run.returncode == 0) is inside, (path, run.stdout, run.stderr)
    if inside:
        assert run.stdout.strip() == resolved
    else:
        assert "TEST_DIR" in run.stderr and ("outside the application's own directories" in run.stderr
                                             or "must be an absolute path" in run.stderr)


def test_units_enabled_at_boot_are_listed_under_systemd_only(tmp_path):
    wants = tmp_path / "units/firstcome.target.wants"
    wants.mkdir(parents=True)
    for unit in ("firstcome-web.service", "firstcome-consume@1.service"):
        (wants / unit).symlink_to(tmp_path / "units" / unit)
    (wants / "other.service").symlink_to(tmp_path / "units/other.service")
    env = {"FIRSTCOME_UNIT_DIR": str(tmp_path / "units")}
    systemd = common_sh("enabled_units", tmp_path, **env, FIRSTCOME_SERVICE_MANAGER="systemd")
    assert sorted(systemd.stdout.split()) == ["firstcome-consume@1.service", "firstcome-web.service"], systemd.stderr
    assert common_sh("enabled_units", tmp_path, **env).stdout == ""  # direct mode: nothing starts at boot


def test_systemd_units_stop_gracefully_and_restart_on_failure():
    units = {path.name: path.read_text() for path in (BASE_DIR / "scripts/systemd").glob("*.service")}
    assert set(units) == {"firstcome-web.service", "firstcome-consume@.service", "firstcome-consume-stats.service"}
    for name, text in units.items():
        assert "Restart=on-failure" in text, name
        assert "KillSignal=SIGTERM" in text, name
        assert "EnvironmentFile=@ENV_FILE@" in text, name
        stop_timeout = int(text.split("TimeoutStopSec=")[1].split()[0])
        # longer than gunicorn's graceful_timeout (20 s) / a consumer's stop grace (20 s)
        assert stop_timeout > 20, name
    assert "manage.py consume_firstcome" in units["firstcome-consume@.service"]
    assert "manage.py consume_stats" in units["firstcome-consume-stats.service"]
    assert "ExecReload=/bin/kill -s HUP $MAINPID" in units["firstcome-web.service"]


# --- the hooks, for real ---------------------------------------------------------------------------

@pytest.fixture
def deploy_database():
    """A database of the deployment's own on the test server, dropped afterwards."""
    with scratch_database("deploy") as name:
        yield database_url({**connection.settings_dict, "NAME": name})


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive ports nothing listens on."""
    while True:
        first = free_port()
        if first + count - 1 <= 65535 and not any(port_open("127.0.0.1", first + i) for i in range(1, count)):
            return first


class Host:
    """One host, as CodeDeploy sees it: an app root, an /etc, the hook scripts of a revision."""

    def __init__(self, root, broker, database_url):
        self.root = root
        self.app_root = root / "opt/firstcome"
        self.env_file = root / "etc/firstcome/firstcome.env"
        self.port = free_port()
        self.consumer_metrics_port = consecutive_free_ports(2)  # firstcome-consume@0 and @1
        self.stats_metrics_port = free_port()
        (root / "etc").mkdir(parents=True)
        # what the service account may write to, whichever account the test makes it
        self.spool = root / "spool"
        self.spool.mkdir(mode=0o1777)
        self.spool.chmod(0o1777)
        self.crontab_file = self.spool / "crontab.txt"
        crontab = root / "crontab"
        crontab.write_text(CRONTAB_DOUBLE.format(crontab_file=self.crontab_file))
        crontab.chmod(0o755)
        self.env = {
            "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
            # where and how: no systemd, no AWS, no apt here
            "FIRSTCOME_APP_ROOT": str(self.app_root),
            "FIRSTCOME_ENV_FILE": str(self.env_file),
            "FIRSTCOME_SITE_ENV_FILE": str(root / "etc/firstcome/site.env"),
            "FIRSTCOME_USER": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
            "FIRSTCOME_SERVICE_MANAGER": "direct",
            "FIRSTCOME_SECRETS_SOURCE": "env",
            "FIRSTCOME_OS_PACKAGES": "",
            "FIRSTCOME_SERVICES": "web,consume,consume-stats,cron" if HAS_STATS_CONSUMER else "web,consume,cron",
            "FIRSTCOME_VALIDATE_TIMEOUT_S": "60",
            # the real virtualenv install, with the test virtualenv's packages already in reach
            "FIRSTCOME_PYTHON": sys._base_executable,
            "FIRSTCOME_VENV_SHARED_SITE_PACKAGES": next(p for p in sys.path if p.endswith("site-packages")),
            "FIRSTCOME_PIP_ARGS": "--no-index",
            # the application's settings, as an operator would put them in site.env
            "DJANGO_SECRET_KEY": "deploy-test-secret-" + "x7Q2v9LkJp8ZtN4mB6yHc1FgD5sKa0EuRiOoPlTn",
            "DJANGO_ALLOWED_HOSTS": "coupons.example.com",
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "KAFKA_SINGLE_BROKER": "true",  # one embedded broker: the production settings' override
            # the identity provider: this test run's development issuer, whose tokens call() sends
            **dev_identity_env(),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "FIRSTCOME_CONSUMER_METRICS_PORT": str(self.consumer_metrics_port),
            "STATS_CONSUMER_METRICS_PORT": str(self.stats_metrics_port),
            "FIRSTCOME_CONSUMER_METRICS_ADDR": "127.0.0.1",
            "GUNICORN_WORKERS": "1",
            "CRONTAB_EXECUTABLE": str(crontab),
        }

    def run_hook(self, hook, revision, **env):
        return subprocess.run([str(revision / APPSPEC["hooks"][hook][0]["location"])],
                              env={**self.env, "LIFECYCLE_EVENT": hook, **env},
                              capture_output=True, text=True, timeout=600)

    def deploy(self, deployment_id, **env):
        """The lifecycle of one deployment; CodeDeploy's own step (Install) copies the revision."""
        revision = Path(os.readlink(self.app_root / "current")) if (self.app_root / "current").exists() else BASE_DIR
        outputs = []
        for hook in HOOKS:
            if hook == "AfterInstall":
                revision = self.copy_revision()
            run = self.run_hook(hook, revision, DEPLOYMENT_ID=deployment_id, **env)
            outputs.append(f"--- {hook} ({run.returncode})\n{run.stdout}{run.stderr}")
            if run.returncode:
                return run.returncode, "\n".join(outputs)
        return 0, "\n".join(outputs)

    def copy_revision(self):
        """CodeDeploy's own step (Install): this revision into incoming/."""
        incoming = self.app_root / "incoming"
        shutil.copytree(BASE_DIR, incoming, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", ".venv", "var", "staticfiles", "__pycache__",
                                                      "test-artifacts"))
        return incoming

    def stage_revision(self):
        """BeforeInstall, then the few files of a revision AfterInstall reads before it builds."""
        assert self.run_hook("BeforeInstall", BASE_DIR).returncode == 0
        for name in ("manage.py", ".env.example", "requirements.txt"):
            shutil.copy(BASE_DIR / name, self.app_root / "incoming")

    def pids(self):
        return {p.stem: int(p.read_text()) for p in (self.app_root / "run").glob("*.pid")}

    def manage(self, *args):
        """manage.py in the current release with the installed environment, as cron would run it."""
        release = self.app_root / "current"
        command = f"set -a; . '{self.env_file}'; set +a; exec venv/bin/python manage.py " + " ".join(args)
        run = subprocess.run(["sh", "-c", command], cwd=release, env={"PATH": os.environ["PATH"]},
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout.strip().splitlines()[-1]


def assert_units_verify(unit_dir, scratch):
    """systemd's own parser on the units as AfterInstall rendered them (unknown keys, bad values)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    scratch.mkdir()
    for unit in unit_dir.iterdir():
        name = unit.name.replace("@.", "@0.")  # a template is verified as one of its instances
        shutil.copy(unit, scratch / name)
    names = sorted(path.name for path in scratch.iterdir())
    assert names == ["firstcome-consume-stats.service", "firstcome-consume@0.service", "firstcome-web.service",
                     "firstcome.target"]
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", *(f"./{name}" for name in names)],
                         cwd=scratch, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def dev_identity_env():
    from identity import participants

    participants.verifier()  # its JWKS file exists
    return {"FIRSTCOME_JWT_JWKS_FILE": settings.FIRSTCOME_JWT_JWKS_FILE, "FIRSTCOME_JWT_ISSUER": settings.FIRSTCOME_JWT_ISSUER,
            "FIRSTCOME_JWT_AUDIENCE": ",".join(settings.FIRSTCOME_JWT_AUDIENCE)}


@pytest.fixture
def host_root():
    """A host's / that any account can traverse (pytest's own temporary directories are private),
    so that the hooks can run manage.py as an unprivileged service account."""
    root = Path(tempfile.mkdtemp(prefix="firstcome-host-"))
    root.chmod(0o755)
    yield root / "host"
    shutil.rmtree(root)


@pytest.fixture
def host(tmp_path, host_root, deploy_database):
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    try:
        host = Host(host_root, broker, deploy_database)
        host.broker = broker
        yield host
        host.run_hook("ApplicationStop", BASE_DIR)
    finally:
        for pid in host.pids().values() if (host_root / "opt/firstcome/run").exists() else ():
            if alive(pid):  # a backstop, when the hook itself failed
                os.killpg(pid, 9)
        broker.stop()


@pytest.fixture
def offline_host(host_root):
    """A host whose database and broker are never reached: for the checks that must stop a
    deployment before anything is built. It has an environment file from an earlier release and
    reads its settings from SSM (a double of the aws cli)."""
    host = Host(host_root, SimpleNamespace(bootstrap_servers="127.0.0.1:9"), "mysql://nobody@127.0.0.1:9/none")
    host.stage_revision()
    host.previous_env = "# the release before\nDATABASE_URL='mysql://old@db/old'\n"
    host.env_file.write_text(host.previous_env)
    bin_dir = host.root / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(AWS_DOUBLE)
    (bin_dir / "aws").chmod(0o755)
    host.ssm_parameters = host.root / "ssm.json"
    host.env.update(FIRSTCOME_SECRETS_SOURCE="ssm", FAKE_SSM_PARAMETERS=str(host.ssm_parameters),
                    PATH=f"{bin_dir}:{host.env['PATH']}")
    return host


@pytest.mark.slow
@pytest.mark.django_db
def test_deploy_redeploy_and_a_failed_validation(host):
    # 1. a first deployment on a fresh host: install, migrate, start, validate
    code, log = host.deploy("d-1", FIRSTCOME_CONSUMERS="2")
    assert code == 0, log
    assert os.readlink(host.app_root / "current") == str(host.app_root / "releases/d-1")
    assert (host.app_root / "releases/d-1/venv/bin/python").exists()
    assert (host.app_root / "releases/d-1/staticfiles/staticfiles.json").exists()  # manifest storage
    assert stat.S_IMODE(host.env_file.stat().st_mode) == 0o640
    installed = host.env_file.read_text()
    assert "DJANGO_SETTINGS_MODULE='campaign_site.settings.production'" in installed
    assert "manage.py check --deploy" in log and "manage.py migrate" in log
    assert_units_verify(host.app_root / "run/units", host.root / "verify")
    first = host.pids()
    assert set(first) >= {"firstcome-web.service", "firstcome-consume@0.service", "firstcome-consume@1.service"}
    assert all(alive(pid) for pid in first.values())
    cron_jobs = getattr(settings, "CRONJOBS", [])
    crontab = host.crontab_file.read_text() if host.crontab_file.exists() else ""
    assert "manage.py crontab add" in log and crontab.count(" crontab run ") == len(cron_jobs)
    assert all(f". '{host.env_file}'" in line for line in crontab.splitlines() if " crontab run " in line)

    # the deployed stack serves and decides: production settings behind a TLS-terminating proxy
    campaign_id = host.manage("shell", "-c", "'from campaigns.services import campaign_create; "
                              "print(campaign_create(name=\"deploy\", total_stock=5).pk)'")
    base = f"http://127.0.0.1:{host.port}"
    proxied = {"Host": "coupons.example.com", "X-Forwarded-Proto": "https"}
    assert get(f"{base}/api/campaigns/{campaign_id}", headers={"Host": "coupons.example.com"})[0] == 301
    assert get(f"{base}/api/campaigns/{campaign_id}", headers=proxied)[0] == 200
    manifest = json.loads((host.app_root / "current/staticfiles/staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    response = urllib.request.urlopen(urllib.request.Request(f"{base}/static/{hashed}", headers=proxied), timeout=5)
    assert response.status == 200  # WhiteNoise, from the web process, cached for good
    assert "immutable" in response.headers["Cache-Control"]
    status, body = call("POST", f"{base}/api/campaigns/{campaign_id}/participations", headers=proxied,
                        body={"user_id": "deploy-user"})
    assert status == 202, body
    poll(lambda: host.manage("shell", "-c", "'from campaigns.models import Participation; "
                             "print(Participation.objects.count())'") == "1", timeout=30, message="a decision")
    # every installed consumer unit exports its metrics and readiness where prometheus.yml looks
    consumer_ports = {"consume_firstcome": [host.consumer_metrics_port, host.consumer_metrics_port + 1]}
    if HAS_STATS_CONSUMER:
        consumer_ports["consume_stats"] = [host.stats_metrics_port]
    for name, ports in consumer_ports.items():
        for port in ports:
            poll(lambda: port_open("127.0.0.1", port), timeout=30, message=f"{name}'s metrics on {port}")
            samples = scrape_metrics(f"http://127.0.0.1:{port}")
            assert any(sample == "firstcome_consumer_messages_consumed_total" and ("consumer", name) in labels
                       for sample, labels in samples), (name, port)
            assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200

    # 2. a re-deployment: everything restarted on the new release, one consumer fewer, and the
    #    cron jobs handed to another host
    code, log = host.deploy("d-2", FIRSTCOME_CONSUMERS="1",
                            FIRSTCOME_SERVICES=host.env["FIRSTCOME_SERVICES"].replace(",cron", ""))
    assert code == 0, log
    assert "this host does not run the cron jobs" in log
    assert " crontab run " not in (host.crontab_file.read_text() if host.crontab_file.exists() else "")
    assert os.readlink(host.app_root / "current") == str(host.app_root / "releases/d-2")
    assert "No migrations to apply" in log
    second = host.pids()
    assert "firstcome-consume@1.service" not in second
    assert not any(alive(pid) for pid in first.values())  # the old processes are gone
    assert all(alive(pid) for pid in second.values())
    assert host.manage("shell", "-c", "'from campaigns.models import Participation; "
                       "print(Participation.objects.count())'") == "1"

    # 3. the broker goes away: ValidateService fails the deployment and says why
    host.broker.stop()
    run = host.run_hook("ValidateService", host.app_root / "current", FIRSTCOME_VALIDATE_TIMEOUT_S="3")
    assert run.returncode != 0
    assert '"failing": ["broker"]' in run.stdout + run.stderr
    assert "FAILED: not healthy within 3s" in run.stderr

    # 4. ApplicationStop stops everything; running it again is harmless
    assert host.run_hook("ApplicationStop", host.app_root / "current").returncode == 0
    assert not any(alive(pid) for pid in second.values())
    again = host.run_hook("ApplicationStop", host.app_root / "current")
    assert again.returncode == 0 and "nothing running" in again.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("change, reason", [
    ({"DATABASE_URL": None, "DJANGO_ALLOWED_HOSTS": None}, "required settings missing (source: env): DJANGO_ALLOWED_HOSTS DATABASE_URL"),
    ({"DJANGO_SECRET_KEY": "from .env.example"}, "DJANGO_SECRET_KEY is the example value from .env.example"),
    ({"FIRSTCOME_METRICS_TOKEN": "from .env.example"}, "FIRSTCOME_METRICS_TOKEN is the example value from .env.example"),
    ({"FIRSTCOME_VAR_DIR": "/etc/firstcome-var"},
     "FIRSTCOME_VAR_DIR (/etc/firstcome-var) is outside the application's own directories"),
    ({"FIRSTCOME_VAR_DIR": "/var/lib/firstcome/../../../root/x"},
     "FIRSTCOME_VAR_DIR (/var/lib/firstcome/../../../root/x) is outside the application's own directories"),
    ({"FIRSTCOME_VAR_DIR": "var"}, "FIRSTCOME_VAR_DIR (var) must be an absolute path"),
    ({"STATS_BATCH_LOG": "/usr/local/bin/stats_batch.log"},
     "the directory of STATS_BATCH_LOG (/usr/local/bin) is outside the application's own directories"),
])
def test_after_install_refuses_bad_settings_before_building_anything(host, change, reason):
    host.stage_revision()
    examples = dict(line.split("=", 1) for line in (BASE_DIR / ".env.example").read_text().splitlines()
                    if line.startswith(("DJANGO_SECRET_KEY=", "FIRSTCOME_METRICS_TOKEN=")))
    env = {**host.env, "DEPLOYMENT_ID": "d-bad"}
    for name, value in change.items():
        if value is None:
            del env[name]
        else:
            env[name] = examples[name] if value == "from .env.example" else value
    run = subprocess.run([str(hook_script("AfterInstall"))], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"FAILED: {reason}" in run.stderr
    assert not host.env_file.exists()
    assert not (host.app_root / "releases/d-bad").exists() and "creating the virtualenv" not in run.stdout


def after_install_with_ssm(host, parameters):
    host.ssm_parameters.write_text(json.dumps(parameters))
    return host.run_hook("AfterInstall", BASE_DIR, DEPLOYMENT_ID="d-refused")


def assert_refused_before_anything_changed(host, run, reason):
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"FAILED: {reason}" in run.stderr, run.stderr
    assert host.env_file.read_text() == host.previous_env  # the running release's settings stay
    assert [path.name for path in host.env_file.parent.iterdir()] == [host.env_file.name]
    assert "creating the virtualenv" not in run.stdout
    assert not (host.app_root / "releases/d-refused").exists() and not (host.app_root / "current").exists()


HOOK_TEST_SETTINGS = hypothesis_settings(max_examples=5, deadline=None, database=None,
                                         suppress_health_check=[HealthCheck.function_scoped_fixture])
# What SSM allows in a parameter name (letters, digits, _ . -) that an environment file does not.
BAD_NAMES = st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True).filter(
    lambda name: not (name[0].isalpha() or name[0] == "_") or not name.replace("_", "a").isalnum())


@HOOK_TEST_SETTINGS
@given(name=BAD_NAMES)
def test_after_install_refuses_an_ssm_parameter_name_no_env_file_can_carry(offline_host, name):
    run = after_install_with_ssm(offline_host, {"LOG_LEVEL": "INFO", name: "value"})
    assert_refused_before_anything_changed(
        offline_host, run, f"SSM parameter /firstcome/prod/{name}: '{name}' is not a valid variable name")


SAFE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\n\r'\0"), max_size=10)


@HOOK_TEST_SETTINGS
@given(value=st.tuples(SAFE_TEXT, st.sampled_from(["\n", "\r\n", "\r", "\n\n"]), SAFE_TEXT).map("".join))
def test_after_install_refuses_a_multi_line_value_naming_the_variable(offline_host, value):
    run = after_install_with_ssm(offline_host, {"DATABASE_URL": value})
    assert_refused_before_anything_changed(
        offline_host, run,
        "DATABASE_URL (from SSM parameter /firstcome/prod/DATABASE_URL): a multi-line value cannot go into an environment file")


def test_hook_settings_are_read_without_the_rest_of_the_env_file_reaching_the_hook(tmp_path):
    env_file = tmp_path / "firstcome.env"
    env_file.write_text(f"FIRSTCOME_SERVICES='web'\nPYTHONPATH='{tmp_path}'\nLD_PRELOAD='{tmp_path}/evil.so'\n")
    run = common_sh(f'load_hook_settings "{env_file}"; echo "$FIRSTCOME_SERVICES"; env', tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "web"
    assert str(tmp_path) not in run.stdout.replace(f"FIRSTCOME_APP_ROOT={tmp_path}", "")


def interpreter_for(account):
    """The test's Python, or the system's of the same version, whichever ACCOUNT can run (a pyenv
    interpreter under /root is out of an unprivileged account's reach)."""
    for candidate in (sys._base_executable, "/usr/bin/python3"):
        run = subprocess.run(["runuser", "-u", account, "--", candidate, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True)
        if run.returncode == 0 and run.stdout.strip() == str(sys.version_info[:2]):
            return candidate
    pytest.skip(f"no Python {sys.version_info[:2]} that {account} can run")


@pytest.mark.slow
@pytest.mark.django_db
def test_after_install_runs_manage_py_as_the_service_account_and_keeps_the_env_file_from_root(host):
    # The env file carries a PYTHONPATH whose sitecustomize reports every Python process that
    # imports it: the manage.py steps, and nothing that runs as root.
    service = pwd.getpwnam("nobody")
    inject = host.root / "inject"
    inject.mkdir()
    marker = host.spool / "imported-by"
    (inject / "sitecustomize.py").write_text(
        "import os, sys\n"
        f"with open({str(marker)!r}, 'a') as f: f.write(f'{{os.getuid()}} {{\" \".join(sys.argv[1:2])}}\\n')\n")
    host.env.update(FIRSTCOME_USER=service.pw_name, FIRSTCOME_GROUP="nogroup",
                    FIRSTCOME_PYTHON=interpreter_for(service.pw_name))
    assert host.run_hook("BeforeInstall", BASE_DIR).returncode == 0
    (host.root / "etc/firstcome/site.env").write_text(f"PYTHONPATH={inject}\n")
    run = host.run_hook("AfterInstall", host.copy_revision(), DEPLOYMENT_ID="d-1")
    assert run.returncode == 0, run.stdout + run.stderr
    imported = [line.split(" ", 1) for line in marker.read_text().splitlines()]
    assert {uid for uid, _ in imported} == {str(service.pw_uid)}, imported
    assert "manage.py runs as nobody" in run.stdout
    assert {"check", "migrate", "collectstatic", "create_topics", "crontab"} <= {step for _, step in imported}
    assert f"PYTHONPATH='{inject}'" in host.env_file.read_text()
    assert (host.app_root / "current/staticfiles/staticfiles.json").stat().st_uid == service.pw_uid
