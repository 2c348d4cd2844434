"""The whole stack on this machine, as children of a management command (run_demo,
burst_report): the broker (the embedded Tansu unless KAFKA_BOOTSTRAP_SERVERS names one), gunicorn
and consume_firstcome; and k6 runs against them."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from lab.embedded import broker_from_environment
from lab.processes import ManagedProcess, project_env, wait_until

BIN = Path(sys.executable).parent
# k6's exit code when the script's thresholds were crossed: the run happened, the summary holds it.
K6_THRESHOLDS_CROSSED = 99


class ChildExited(RuntimeError):
    """A process of the stack exited while it was needed."""


def gunicorn_command():
    """gunicorn as production starts it: everything from gunicorn.conf.py."""
    return [str(BIN / "gunicorn"), "-c", str(Path(settings.BASE_DIR) / "gunicorn.conf.py")]


def http_up(base_url):
    """The web server answers (a 404 for campaign 0 is an answer)."""
    try:
        urllib.request.urlopen(f"{base_url}/api/campaigns/0", timeout=1)
    except urllib.error.HTTPError as exc:
        return exc.code == 404
    except OSError:
        return False
    return True


class LocalStack:
    def __init__(self, logs, *, say=None):
        self.logs = Path(logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.say = say or (lambda text: None)
        self.children = []
        self._broker = contextlib.ExitStack()
        self.broker_description = None

    def start_broker(self, port=9092):
        """Use the broker KAFKA_BOOTSTRAP_SERVERS names; without one, start the embedded broker
        (on `port` when it is free) and point this process and its children at it."""
        self.broker_description = self._broker.enter_context(
            broker_from_environment(log_path=self.logs / "tansu.log", preferred_port=port))
        self.say(f"broker: {self.broker_description}")

    def env(self, **overrides):
        return project_env(**overrides)

    def start_web(self, port, **env):
        """gunicorn (gunicorn.conf.py) on 127.0.0.1:port; returns its base URL once it answers."""
        base_url = f"http://127.0.0.1:{port}"
        self._start(ManagedProcess(
            gunicorn_command(),
            env=self.env(GUNICORN_BIND=f"127.0.0.1:{port}", **env), log_path=self.logs / "web.log", name="web"))
        self.wait(lambda: http_up(base_url), timeout=30, message="the web server")
        return base_url

    def start_consumer(self, *args, command="consume_firstcome", **env):
        self._start(ManagedProcess.manage(command, *args, env=self.env(**env),
                                          log_path=self.logs / f"{command}.log"))

    def _start(self, child):
        self.children.append(child.start())

    def dead(self):
        return [child.name for child in self.children if not child.alive()]

    def check_alive(self):
        if dead := self.dead():
            raise ChildExited(f"{', '.join(dead)} exited; see {self.logs}/")

    def wait(self, predicate, *, timeout, message):
        """wait_until, but fail at once if one of the stack's processes exits meanwhile."""
        def ready():
            self.check_alive()
            return predicate()
        return wait_until(ready, timeout=timeout, message=message)

    def stop(self):
        for child in reversed(self.children):
            child.stop()
        self._broker.close()


def k6_users(count, *, prefix="user", first=None):
    """The users a k6 script names by index k (0 to count): `<prefix>-<k>`, or the original
    contract's integer ids `first + k` (k6/original-participation.js)."""
    return [str(first + k) if first is not None else f"{prefix}-{k}" for k in range(count + 1)]


def write_tokens(path, users):
    """A JSON array whose k-th entry is a development token of users[k] (k6/common.js reads it):
    the load scripts act as their users with identity on, as real clients would."""
    from identity import participants

    Path(path).write_text(json.dumps([participants.mint(user, ttl_s=6 * 3600) for user in users]))
    return path


def run_k6(script, variables, *, summary_path, log_path, timeout, users=None):
    """Run k6/<script> with the k6 binary of the k6 package; returns (exit code, JSON summary or
    None). Every variable is passed with -e, so nothing leaks in from this process's environment.
    `users` (k6_users): each gets a development token, handed to the script as TOKENS_FILE."""
    args = [str(BIN / "k6"), "run", "--quiet", "--include-system-env-vars=false"]
    minted = None
    if users is not None:  # kept out of the run's folder: a report's files are what it reports
        handle, minted = tempfile.mkstemp(prefix="k6-tokens-", suffix=".json")
        os.close(handle)
        write_tokens(minted, users)
        variables = {**variables, "TOKENS_FILE": minted}
    try:
        for name, value in {**variables, "SUMMARY": summary_path}.items():
            args += ["-e", f"{name}={value}"]
        k6 = ManagedProcess([*args, str(Path(settings.BASE_DIR) / "k6" / script)], log_path=log_path, name="k6").start()
        try:
            code = k6.process.wait(timeout)
        except subprocess.TimeoutExpired:
            k6.stop(signal.SIGINT, timeout=10)  # SIGINT: k6 stops the test and still writes its summary
            raise TimeoutError(f"k6 {script} did not finish within {timeout}s; see {log_path}") from None
    finally:
        if minted is not None:
            os.unlink(minted)
    summary_path = Path(summary_path)
    return code, json.loads(summary_path.read_text()) if summary_path.exists() else None
