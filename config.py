"""Every setting in one place: its name, default, type and check.

Settings come from the environment, after python-dotenv has loaded `.env` (without overriding
variables that are already set). `config.example.env` documents each one.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import load_dotenv

PROJECT_DIR = Path(__file__).resolve().parent

_ARN = re.compile(r"^arn:[a-z\d-]+:personalize:[a-z\d-]+:\d{12}:[a-z-]+/.+$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting has a value the app cannot use; the message names the setting."""


def _text(value: str) -> str:
    return value.strip()


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise ValueError("expected true or false")


def _whole_number(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        # int()'s own message quotes the value, which must not reach logs.
        raise ValueError("expected a whole number") from None


def _num_results(value: str) -> int:
    number = _whole_number(value)
    if not 1 <= number <= 100:
        raise ValueError("expected a whole number from 1 to 100")
    return number


def _port(value: str) -> int:
    number = _whole_number(value)
    if not 1 <= number <= 65535:
        raise ValueError("expected a port number from 1 to 65535")
    return number


def _arn(value: str) -> str:
    value = value.strip()
    if value and not _ARN.match(value):
        raise ValueError("expected an ARN like arn:aws:personalize:REGION:ACCOUNT:campaign/NAME")
    return value


def _database_url(value: str) -> str:
    # Messages never quote the value: the URL holds the database password.
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError("expected a URL like postgresql://USER:PASSWORD@HOST:5432/DATABASE")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    return value


def _web_url(value: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith(("https://", "http://")):
        raise ValueError("expected a URL starting with https:// (or http://)")
    return value


def _worker_count(value: str) -> int:
    number = _whole_number(value)
    if not 0 <= number <= MAX_WORKERS:
        raise ValueError(f"expected a whole number from 0 (from the CPU count) to {MAX_WORKERS}")
    return number


def _thread_count(value: str) -> int:
    number = _whole_number(value)
    if not 1 <= number <= MAX_THREADS:
        raise ValueError(f"expected a whole number from 1 to {MAX_THREADS}")
    return number


def _recipe(value: str) -> str:
    value = value.strip()
    if value not in RECIPES:
        raise ValueError(f"expected one of {', '.join(RECIPES)}")
    return value


def _cache_url(value: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a Redis URL: redis://HOST:PORT/DB, rediss://... or unix://...")
    return value


# gunicorn's processes (each holds a private copy of what is not shared copy-on-write) and
# threads per process; beyond these a bigger machine wants a second server, not more workers.
MAX_WORKERS = 64
MAX_THREADS = 64

# The embedded engine's recipes, named after Personalize's (engine.RECIPES; not imported here,
# so reading settings doesn't load numpy and implicit).
RECIPES = ("user-personalization", "sims", "popularity-count")

# name: (default, parser). Defaults are what a fresh clone runs with: the embedded recommender
# on the shipped sample data, no OMDb key, served on the workshop's port on this machine only.
SETTINGS: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "RATINGS_PATH": ("data/ratings.csv", _text),
    "ITEMS_PATH": ("data/items.csv", _text),
    "RECIPE": ("user-personalization", _recipe),
    "MODEL_DIR": ("", _text),
    "PERSONALIZE_CAMPAIGN_ARN": ("", _arn),
    "PERSONALIZE_RECOMMENDER_ARN": ("", _arn),
    "PERSONALIZE_FILTER_ARN": ("", _arn),
    "PERSONALIZE_GENRE_FILTER_ARN": ("", _arn),
    "PERSONALIZE_SIMS_CAMPAIGN_ARN": ("", _arn),
    "PERSONALIZE_TRACKING_ID": ("", _text),
    "AWS_REGION": ("", _text),
    "OMDB_API_KEY": ("", _text),
    "OMDB_BASE_URL": ("", _web_url),
    "CACHE_URL": ("", _cache_url),
    "DATABASE_URL": ("", _database_url),
    "NUM_RESULTS": (10, _num_results),
    "HOST": ("127.0.0.1", _text),
    "PORT": (8080, _port),
    "SECRET_KEY": ("", _text),
    "WEB_CONCURRENCY": (0, _worker_count),
    "WEB_THREADS": (4, _thread_count),
    "DEBUG": (False, _flag),
    "ALLOW_DEBUG_ON_NETWORK": (False, _flag),
}


def defaults() -> dict[str, Any]:
    return {name: default for name, (default, _parse) in SETTINGS.items()}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from the environment (loading `.env` first), checking each value."""
    if environ is None:
        load_dotenv(PROJECT_DIR / ".env", override=False)
        environ = os.environ
    settings = defaults()
    for name, (_default, parse) in SETTINGS.items():
        raw = environ.get(name)
        if raw is None:
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as error:
            # The value itself is left out of the message: it may be a secret.
            raise ConfigError(f"{name}: {error}") from None
    return check(settings)


def check(settings: dict[str, Any]) -> dict[str, Any]:
    """Checks that involve more than one setting."""
    if settings["PERSONALIZE_CAMPAIGN_ARN"] and settings["PERSONALIZE_RECOMMENDER_ARN"]:
        raise ConfigError(
            "PERSONALIZE_CAMPAIGN_ARN and PERSONALIZE_RECOMMENDER_ARN are both set; "
            "GetRecommendations takes one or the other"
        )
    if settings["DEBUG"] and not is_loopback(settings["HOST"]):
        if not settings["ALLOW_DEBUG_ON_NETWORK"]:
            raise ConfigError(
                f"DEBUG is on and HOST {settings['HOST'] or '(blank)'} is reachable from other "
                "machines: Flask's debugger runs any code typed into the browser. Use "
                "HOST=127.0.0.1, or set ALLOW_DEBUG_ON_NETWORK=true on a network you trust."
            )
    return settings


def is_loopback(host: str) -> bool:
    """Whether HOST serves this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or blank: it may be any interface


def resolve_path(path: str | Path) -> Path:
    """Relative data paths are relative to the project, wherever the app is started from."""
    path = Path(path)
    return path if path.is_absolute() else PROJECT_DIR / path


def model_dir(settings: Mapping[str, Any], instance_path: str | Path) -> Path:
    """Where saved models live: MODEL_DIR (relative to the project), else the instance folder."""
    # .get: a bare Flask app (as some tests make) has only the settings it was given.
    folder = settings.get("MODEL_DIR")
    return resolve_path(folder) if folder else Path(instance_path)


# The account field of an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:...), or a bare account ID.
_ACCOUNT_ID = re.compile(r"(?<=\barn:)([\w-]+:[\w-]*:[\w-]*:)\d{12}(?=:)|\b\d{12}\b")


def redact_account_ids(text: str) -> str:
    """Text for people who may not know the AWS account ID, with the ID replaced by ACCOUNT."""
    return _ACCOUNT_ID.sub(lambda match: f"{match.group(1) or ''}ACCOUNT", text)


def region_of(arn: str) -> str:
    """The region named in an ARN ("" when there is none)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""
