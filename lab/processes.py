"""Start and stop this project's own processes (manage.py commands, gunicorn) as children:
used by the one-command demo, the experiments, the benchmarks and the tests."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings


def database_url(db=None):
    """DATABASE_URL of the database this process uses (the test database, inside tests)."""
    from urllib.parse import quote

    from django.db import connection

    db = db or connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"mysql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


# Where requests and decisions travel, and who reads them. A child may load another settings
# module than this process (the benchmarks' web servers run production settings, whose topic
# names are not the embedded broker's: campaign_site/settings/embedded_broker.py), so it is told
# this process's names instead of finding its own defaults. A caller that moves a child to other
# topics overrides them together (lab/deciders.py).
# Likewise who a participant is: a child on production settings verifies the tokens this
# process mints from the development issuer (identity.dev_issuer).
SHARED_NAMES = ("FIRSTCOME_TOPIC", "FIRSTCOME_DLQ_TOPIC", "FIRSTCOME_DECISIONS_TOPIC", "FIRSTCOME_GROUP_ID",
                "FIRSTCOME_MESSAGE_KEY", "STATS_GROUP_ID", "STATS_DLQ_TOPIC",
                "FIRSTCOME_IDENTITY", "FIRSTCOME_JWT_HEADER", "FIRSTCOME_JWT_JWKS_FILE", "FIRSTCOME_JWT_JWKS_URL",
                "FIRSTCOME_JWT_ALB_KEYS_URL", "FIRSTCOME_JWT_ALB_SIGNER", "FIRSTCOME_JWT_ISSUER",
                "FIRSTCOME_JWT_AUDIENCE", "FIRSTCOME_JWT_USER_CLAIM")


def _env_value(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def project_env(**overrides):
    """The environment a child process needs to use the same database, broker, topics and
    settings module as this one."""
    if settings.FIRSTCOME_DEV_ISSUER:
        from identity import participants

        participants.verifier()  # the development issuer's JWKS exists before a child reads it
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "campaign_site.settings.local")
    env["DATABASE_URL"] = database_url()
    env["KAFKA_BOOTSTRAP_SERVERS"] = ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    env.update((name, _env_value(getattr(settings, name))) for name in SHARED_NAMES)
    env["PYTHONUNBUFFERED"] = "1"
    # The lab's broker is one embedded Tansu: production settings in a child (the benchmarks'
    # web servers) must be told so, or they refuse to start unreplicated (settings/production.py).
    env.setdefault("KAFKA_SINGLE_BROKER", "true")
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return env


class ManagedProcess:
    def __init__(self, args, *, env=None, log_path=None, name=None):
        self.args = list(args)
        self.env = env
        self.log_path = Path(log_path) if log_path else None
        self.name = name or Path(self.args[0]).name
        self.process = None

    @classmethod
    def manage(cls, *command, **kwargs):
        manage_py = Path(settings.BASE_DIR) / "manage.py"
        return cls([sys.executable, str(manage_py), *command], **kwargs)

    @property
    def pid(self):
        return self.process.pid

    def start(self):
        out = subprocess.DEVNULL
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        cwd=settings.BASE_DIR)
        return self

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def send(self, signum):
        if self.alive():
            self.process.send_signal(signum)

    def stop(self, signum=signal.SIGTERM, timeout=30):
        """Signal and wait; kill if it does not exit in time. Returns the exit code."""
        if self.process is None:
            return None
        if self.alive():
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self):
        return self.stop(signal.SIGKILL, timeout=10)

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def wait_until(predicate, *, timeout, interval=0.05, message="condition"):
    """Poll predicate() until it returns something truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
