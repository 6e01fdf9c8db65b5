"""Every setting in one place: its name, default, type and check.

Settings come from the environment, after python-dotenv has loaded `.env` (without overriding
variables that are already set). `config.example.env` documents each one.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import limits
from dotenv import load_dotenv

# The registry imports nothing, so reading the settings loads neither numpy nor implicit.
from recommender.recipes import DEFAULT_TRENDING_WINDOW_DAYS, RECIPES

if TYPE_CHECKING:
    from recommender.model_files import ModelParams

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


def _campaign_arn(value: str) -> str:
    value = _arn(value)
    if value and ":campaign/" not in value:
        raise ValueError("expected a campaign ARN (GetPersonalizedRanking takes no recommender)")
    return value


def _shelf_arn(value: str) -> str:
    value = _arn(value)
    if value and not re.search(r":(campaign|recommender)/", value):
        raise ValueError("expected a campaign or recommender ARN")
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


def _check_seconds(value: str) -> int:
    number = _whole_number(value)
    if not 0 <= number <= MAX_CHECK_SECONDS:
        raise ValueError(f"expected a whole number of seconds, 0 (never) to {MAX_CHECK_SECONDS}")
    return number


def _recipe(value: str) -> str:
    value = value.strip()
    if value not in RECIPES:
        raise ValueError(f"expected one of {', '.join(RECIPES)}")
    return value


def _days(value: str) -> float:
    try:
        days = float(value.strip())
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and days > 0):
        raise ValueError("expected a number of days above 0, such as 30 or 0.5")
    return days


def _cache_url(value: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a Redis URL: redis://HOST:PORT/DB, rediss://... or unix://...")
    return value


ACCESS_MODES = ("open", "trusted-header")
TOKEN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")


def _access_mode(value: str) -> str:
    value = value.strip().lower()
    if value not in ACCESS_MODES:
        raise ValueError(f"expected one of {', '.join(ACCESS_MODES)}")
    return value


def _header_name(value: str) -> str:
    value = value.strip()
    if not _HEADER_NAME.match(value):
        raise ValueError("expected a header name such as X-Amzn-Oidc-Identity")
    return value


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or CIDR blocks: 10.0.0.0/16, 127.0.0.1."""
    networks = []
    for part in filter(None, (piece.strip() for piece in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part[:50]!r} is not an IP address or CIDR block") from None
    return tuple(networks)


def _api_tokens(value: str) -> tuple[tuple[str, str], ...]:
    """Comma-separated NAME:SHA256 pairs, as `flask --app app tokens new NAME` prints them."""
    tokens: dict[str, str] = {}
    for position, part in enumerate(filter(None, (p.strip() for p in value.split(","))), 1):
        name, _, digest = part.partition(":")
        # The entry itself stays out of the message: a token pasted by mistake is a secret.
        if not TOKEN_NAME.match(name) or not _SHA256_HEX.match(digest.lower()):
            raise ValueError(
                f"entry {position} is not NAME:SHA256 (a name of letters, digits, . _ -, a colon, "
                "then the 64 hex digits `flask --app app tokens new NAME` prints)"
            )
        if name in tokens:
            raise ValueError(f"the token name {name!r} appears twice")
        tokens[name] = digest.lower()
    return tuple(tokens.items())


def _rate_limit(value: str) -> str:
    """A limit such as "30 per minute" or "10/second; 500/hour"; blank means no limit."""
    value = value.strip()
    if value:
        try:
            limits.parse_many(value)
        except ValueError:
            raise ValueError('expected a rate such as "30 per minute" or "500/hour"') from None
    return value

# gunicorn's processes (each holds a private copy of what is not shared copy-on-write) and
# threads per process; beyond these a bigger machine wants a second server, not more workers.
MAX_WORKERS = 64
MAX_THREADS = 64
MAX_CHECK_SECONDS = 86_400  # a day: a longer wait for a new model is a restart's job


# name: (default, parser). Defaults are what a fresh clone runs with: the embedded recommender
# on the shipped sample data, no OMDb key, served on the workshop's port on this machine only.
SETTINGS: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "RATINGS_PATH": ("data/ratings.csv", _text),
    "ITEMS_PATH": ("data/items.csv", _text),
    "RECIPE": ("user-personalization", _recipe),
    "MODEL_DIR": ("", _text),
    "TRENDING_WINDOW_DAYS": (DEFAULT_TRENDING_WINDOW_DAYS, _days),
    # How often each process looks (one stat) for a model that `flask train` saved since.
    "MODEL_CHECK_SECONDS": (30, _check_seconds),
    "PERSONALIZE_CAMPAIGN_ARN": ("", _arn),
    "PERSONALIZE_RECOMMENDER_ARN": ("", _arn),
    "PERSONALIZE_FILTER_ARN": ("", _arn),
    "PERSONALIZE_GENRE_FILTER_ARN": ("", _arn),
    "PERSONALIZE_SIMS_CAMPAIGN_ARN": ("", _arn),
    "PERSONALIZE_TRACKING_ID": ("", _text),
    "PERSONALIZE_RANKING_CAMPAIGN_ARN": ("", _campaign_arn),
    "PERSONALIZE_BECAUSE_YOU_WATCHED_ARN": ("", _shelf_arn),
    "PERSONALIZE_TRENDING_ARN": ("", _shelf_arn),
    "PERSONALIZE_POPULAR_ARN": ("", _shelf_arn),
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
    # Who may write (access.py): anyone as any user (the workshop's demo), or whoever the
    # sign-in proxy in front of the app says.
    "ACCESS_MODE": ("open", _access_mode),
    "ALLOW_OPEN_ON_NETWORK": (False, _flag),
    "IDENTITY_HEADER": ("X-Amzn-Oidc-Identity", _header_name),
    "TRUSTED_PROXIES": ((), _networks),
    "API_TOKENS": ((), _api_tokens),
    "API_READS_NEED_TOKEN": (False, _flag),
    "RATE_LIMIT_WRITES": ("30 per minute", _rate_limit),
    "RATE_LIMIT_READS": ("60 per minute", _rate_limit),
    "RATE_LIMIT_NEW_USERS": ("20 per hour", _rate_limit),
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
    if settings["ACCESS_MODE"] == "open" and not is_loopback(settings["HOST"]):
        if not settings["ALLOW_OPEN_ON_NETWORK"]:
            raise ConfigError(
                f"ACCESS_MODE is open and HOST {settings['HOST'] or '(blank)'} is reachable from "
                "other machines: anyone who reaches the app can rate as any user. Put it behind "
                "a sign-in proxy with ACCESS_MODE=trusted-header, use HOST=127.0.0.1, or set "
                "ALLOW_OPEN_ON_NETWORK=true for a demo on a network you trust."
            )
    if settings["ACCESS_MODE"] == "trusted-header" and not settings["TRUSTED_PROXIES"]:
        raise ConfigError(
            "ACCESS_MODE is trusted-header but TRUSTED_PROXIES is blank: name the addresses "
            f"(or CIDR blocks) of the proxy that sets {settings['IDENTITY_HEADER']}, so the "
            "header is believed from it alone."
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


def model_params(settings: Mapping[str, Any]) -> ModelParams:
    """The embedded engine's parameters: the tuned defaults, with the settings that change them.

    The app, `flask train` and `flask evaluate` all use these, so the model one saves is the
    model the others expect (its fingerprint covers the parameters).
    """
    from recommender.model_files import ModelParams  # numpy: only when a model is wanted

    window = settings.get("TRENDING_WINDOW_DAYS")  # .get: as for MODEL_DIR
    return ModelParams() if window is None else ModelParams(trending_window_days=window)


# The account field of an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:...), or a bare account ID.
_ACCOUNT_ID = re.compile(r"(?<=\barn:)([\w-]+:[\w-]*:[\w-]*:)\d{12}(?=:)|\b\d{12}\b")


def redact_account_ids(text: str) -> str:
    """Text for people who may not know the AWS account ID, with the ID replaced by ACCOUNT."""
    return _ACCOUNT_ID.sub(lambda match: f"{match.group(1) or ''}ACCOUNT", text)


def region_of(arn: str) -> str:
    """The region named in an ARN ("" when there is none)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""
