"""The production settings, run the way a deploy runs them: manage.py in a child process with
.env.example's values and nothing from the test's environment."""
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
ENV_EXAMPLE = BASE_DIR / ".env.example"


def example_env():
    """.env.example as a process environment: its NAME=value lines, nothing from ours."""
    env = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env})
