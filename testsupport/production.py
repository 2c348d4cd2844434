"""The production settings, run the way a deploy runs them: manage.py in a child process with
.env.example's values and nothing from the test's environment."""
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
ENV_EXAMPLE = BASE_DIR / ".env.example"


def example_env():
    """.env.example as a process environment: its NAME=value lines, nothing from ours, with its
    example secrets replaced by fresh ones, as an operator fills them in (the example values
    themselves are refused: example_values())."""
    env = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = f"fresh-{secrets.token_urlsafe(40)}" if value.startswith("example-only") else value
    return env


def example_values() -> dict:
    """.env.example's example secrets, as written there."""
    return {name: value for name, _, value in (line.partition("=") for line in ENV_EXAMPLE.read_text().splitlines())
            if value.startswith("example-only")}


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env})
