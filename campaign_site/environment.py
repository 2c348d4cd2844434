"""The one place the process environment is parsed: the settings and gunicorn.conf.py read every
variable through `env`, and .env.example lists them all.

Each reader returns a typed value or stops start-up with InvalidEnvironment naming the variable,
its value and what it should look like: a typo must not quietly turn into a default (a boolean
"ture" into off, a timeout "1.5s" into a crash on the first request). Unset means the default;
so does an empty value, except for `str`, whose empty value some variables give a meaning
("off", "no token"). Imports nothing from Django but its exception, so gunicorn's master reads
it before any application code.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_RATE = re.compile(r"([0-9]+)/([0-9]*)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|KEY", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"://\S*@")  # user:password@ in a value that is not meant as a URL
_URL_SCHEME_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:?//")  # kept when credentials are hidden
_SECRET_OPTION = re.compile(r"(?i)((?:pass|secret|token|key)[^=&\s]*=)[^&\s]*")


def shown(name: str, value: str) -> str:
    """`value` as a message may show it: nothing of a secret variable, no credentials of a URL
    (its user, password and secret-named query options), so that a typo in DATABASE_URL does not
    put its password into journald and the deploy hooks' output."""
    if _SECRET_NAME.search(name):
        return f"<{len(value)} characters, not shown>"
    if "URL" in name.upper():  # however malformed (no ://, a bad port), its credentials stay hidden
        return _SECRET_OPTION.sub(r"\1***", _without_credentials(value))
    return _SECRET_OPTION.sub(r"\1***", _URL_CREDENTIALS.sub("://***@", value))


def _without_credentials(value: str) -> str:
    """Everything up to the last @ hidden but the scheme: a password may hold @, /, spaces, and the
    URL may be malformed anywhere (no ://, a bad port). Without an @ (a host forgotten: scheme://
    user:password/db), the authority is hidden whole when it holds a colon."""
    head, at, tail = value.rpartition("@")
    scheme = _URL_SCHEME_PREFIX.match(head if at else value)
    if not at:
        if scheme is None:
            return value
        rest = value[scheme.end():]
        authority, slash, path = rest.partition("/")
        return f"{scheme.group(0)}***{slash}{path}" if ":" in authority else value
    if not (scheme or ":" in head):  # no user:password@ part to hide
        return value
    return f"{scheme.group(0) if scheme else ''}***@{tail}"


class InvalidEnvironment(ImproperlyConfigured):
    """A variable's value cannot be used: the message names the variable, its value (never a
    secret: shown()) and the expected form."""

    def __init__(self, name: str, value: str, expected: str):
        super().__init__(f"{name}={shown(name, value)!r}: use {expected}")
        self.name = name


class Environment:
    def __init__(self, environ: Mapping[str, str] = os.environ):
        self.environ = environ

    def _read(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        """The variable through `parse`, or `default` when unset or empty; a ValueError from
        `parse` becomes InvalidEnvironment."""
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return default
        try:
            return parse(value.strip())
        except ValueError:
            raise InvalidEnvironment(name, value, expected) from None

    def str(self, name: str, default: str | None = None, *, choices: Sequence[str] = ()) -> str | None:
        value = self.environ.get(name, default)
        if choices and value not in choices:
            raise InvalidEnvironment(name, value, f"one of {', '.join(choices)}")
        return value

    def bool(self, name: str, default: bool) -> bool:
        def parse(value):
            if value.lower() not in TRUE | FALSE:
                raise ValueError
            return value.lower() in TRUE
        return self._read(name, default, parse, "true or false (also 1/0, yes/no, on/off)")

    def int(self, name: str, default: int, *, minimum: int | None = None) -> int:
        def parse(value):
            if not _INTEGER.fullmatch(value) or (minimum is not None and int(value) < minimum):
                raise ValueError
            return int(value)
        return self._read(name, default, parse, "a whole number" + _at_least(minimum))

    def float(self, name: str, default: float, *, minimum: float | None = None) -> float:
        def parse(value):
            if not _NUMBER.fullmatch(value) or (minimum is not None and float(value) < minimum):
                raise ValueError
            if not math.isfinite(float(value)):
                raise ValueError
            return float(value)
        return self._read(name, default, parse, "a number such as 1.5" + _at_least(minimum))

    def list(self, name: str, default: str = "") -> list[str]:
        """Comma-separated; blanks around and between items are dropped."""
        return [item.strip() for item in self.environ.get(name, default).split(",") if item.strip()]

    def url(self, name: str, default: str | None = None, *, schemes: Sequence[str] = ()) -> str | None:
        def parse(value):
            if not _URL_SCHEME.match(value):
                raise ValueError
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
            if schemes and parts.scheme not in schemes:
                raise ValueError
            return value
        accepted = f" with one of the schemes {', '.join(schemes)}" if schemes else ""
        return self._read(name, default, parse, f"a URL scheme://...{accepted}")

    def log_level(self, name: str, default: str) -> str:
        """A logging level name, in any case; returned upper-case."""
        def parse(value):
            if value.upper() not in LOG_LEVELS:
                raise ValueError
            return value.upper()
        return self._read(name, default, parse, f"one of {', '.join(LOG_LEVELS)}")

    def time_zone(self, name: str, default: str | None = None) -> str | None:
        """An IANA zone name such as Asia/Seoul or UTC."""
        def parse(value):
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a long name
                raise ValueError from None
            return value
        return self._read(name, default, parse, "a time zone name such as Asia/Seoul or UTC")

    def rate(self, name: str, default: str) -> tuple[int, int] | None:
        """"N/<period>" (10/5m, 30/m, 100/h, 1000/d) → (N, seconds); "off" → None."""
        value = self.environ.get(name, default)
        if value.strip() in ("", "off"):
            return None
        match = _RATE.fullmatch(value.strip())
        if match is None:
            raise InvalidEnvironment(name, value, "N/<period> such as 10/5m, 30/m or 100/h, or off")
        count, multiplier, unit = match.groups()
        return int(count), int(multiplier or 1) * _SECONDS[unit]


def _at_least(minimum) -> str:
    return "" if minimum is None else f" of at least {minimum}"


env = Environment()
