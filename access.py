"""Who may do what: the access mode, API tokens, who made a rating, and per-client rate limits.

- `open` (the default): anyone acts as any user, as in the workshop.
- `trusted-header`: a sign-in proxy (an AWS ALB with Cognito or OIDC, oauth2-proxy) sets the
  user's ID in IDENTITY_HEADER; it is believed only from TRUSTED_PROXIES. A person sees and
  rates only as themselves: other users' pages are refused (403).
- API writes need a bearer token from API_TOKENS in every mode but `open` (reads too with
  API_READS_NEED_TOKEN); a token sent in `open` mode is checked all the same.

Limits (Flask-Limiter) are per client: a token's name, a signed-in user, else the address. A
view opts in with `@limited(WRITES)` or `@limited(READS)`; `create_app` applies them, in memory,
or in Redis when CACHE_URL is set, so that they hold across workers and machines.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from inputs import InvalidInput, parse_user_id
from recommender.interface import RecommenderUnavailable

logger = logging.getLogger(__name__)

V = TypeVar("V", bound=Callable[..., Any])

# Named limits: each is a setting, and one budget per client shared by every route that uses it.
WRITES = "writes"  # ratings, from the form or the API
READS = "reads"  # expensive reads: results pages, search, compare, the recommending API
NEW_USERS = "new-users"  # user IDs one client may bring into being (open mode only)
LIMIT_SETTINGS = {
    WRITES: "RATE_LIMIT_WRITES",
    READS: "RATE_LIMIT_READS",
    NEW_USERS: "RATE_LIMIT_NEW_USERS",
}
_LIMIT_MESSAGES = {
    WRITES: "Too many ratings from you in a short time",
    READS: "Too many pages asked for in a short time",
    NEW_USERS: "Too many new user IDs from you in the last hour",
}
DEMO_NOTICE = "demo mode: anyone can act as any user"
_REALM = "movie-recs API"
_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


# ---------------------------------------------------------------------------------------------
# Who is asking


def is_open() -> bool:
    return current_app.config["ACCESS_MODE"] == "open"


def _in_networks(address: str | None, networks: Iterable[Any]) -> bool:
    try:
        found = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(found in network for network in networks)


def from_trusted_proxy() -> bool:
    return _in_networks(request.remote_addr, current_app.config["TRUSTED_PROXIES"])


def client_address() -> str:
    """The client's address: behind TRUSTED_PROXIES, the last one they saw in X-Forwarded-For."""
    address = request.remote_addr or "unknown"
    proxies = current_app.config["TRUSTED_PROXIES"]
    if not _in_networks(address, proxies):
        return address
    # Each proxy appends the address it got the request from; only entries added by our own
    # proxies can be believed, so walk back from the end past them.
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if not _in_networks(hop, proxies):
            return hop if _is_address(hop) else address
        address = hop
    return address


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def signed_in_user() -> str | None:
    """The proxy's user ID in trusted-header mode; None when not signed in (or open mode).

    The header counts only on a request from TRUSTED_PROXIES: from anywhere else it is forged.
    """
    if "signed_in_user" not in g:
        g.signed_in_user = _signed_in_user()
    return g.signed_in_user


def _signed_in_user() -> str | None:
    if is_open():
        return None
    raw = request.headers.get(current_app.config["IDENTITY_HEADER"])
    if raw is None:
        return None
    if not from_trusted_proxy():
        logger.warning(
            "Ignored %s from %s, which is not in TRUSTED_PROXIES",
            current_app.config["IDENTITY_HEADER"], request.remote_addr,
        )
        return None
    try:
        return parse_user_id(raw)
    except InvalidInput:
        header = current_app.config["IDENTITY_HEADER"]
        logger.warning("Ignored an unusable %s from the proxy", header)
        return None


def user_for(raw: str | None) -> str:
    """The user a page is about: any ID in open mode; only the signed-in person's otherwise.

    In trusted-header mode a missing ID means "me", another person's ID is a 403: their page
    shows what they watched and rated, which is theirs.
    """
    if is_open():
        return parse_user_id(raw)
    me = _require_signed_in()
    if raw is None or not raw.strip() or raw.strip() == me:
        return me
    raise Forbidden(
        f"You are signed in as {me}: you can see and rate only as yourself, not as another user."
    )


def optional_user(raw: str | None) -> str | None:
    """The user a page may rate as when it names none or one: None in open mode without one."""
    if is_open():
        return parse_user_id(raw) if raw else None
    return user_for(raw)


def _require_signed_in() -> str:
    me = signed_in_user()
    if me is None:
        raise Forbidden(
            "This app learns who you are from its sign-in page, and this request did not come "
            "through it. Open the app's address again to sign in."
        )
    return me


# ---------------------------------------------------------------------------------------------
# API tokens


def new_token() -> tuple[str, str]:
    """A fresh random token and the SHA-256 to put in API_TOKENS."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    # A plain hash is enough: tokens are 256 random bits, so there is nothing to guess.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_name() -> str | None:
    """The name of the API token the request carries and that matches; None otherwise."""
    if "token_name" not in g:
        g.token_name = _match_token(_bearer_token())
    return g.token_name


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _match_token(token: str | None) -> str | None:
    if token is None:
        return None
    sent = token_digest(token).encode()
    found = None
    # Every entry is compared, in constant time, so timing tells nothing about which one matched.
    for name, digest in current_app.config["API_TOKENS"]:
        if hmac.compare_digest(sent, digest.encode()):
            found = name
    return found


def check_api_token() -> None:
    """Before every API request: writes need a token unless open; a bad token is always a 401."""
    sent = request.headers.get("Authorization") is not None
    if sent and token_name() is None:
        raise _unauthorized("The bearer token is not one of API_TOKENS.", "invalid_token")
    config = current_app.config
    write = request.method not in _READ_METHODS
    needed = config["API_READS_NEED_TOKEN"] or (write and not is_open())
    if needed and not sent:
        what = "Writing" if write else "Reading"
        raise _unauthorized(
            f"{what} through the API needs a token: send Authorization: Bearer TOKEN "
            "(an administrator makes one with `flask --app app tokens new NAME`).",
        )


def _unauthorized(message: str, error: str | None = None) -> Unauthorized:
    parameters = {"realm": _REALM} | ({"error": error} if error else {})
    return Unauthorized(message, www_authenticate=WWWAuthenticate("bearer", parameters))


# ---------------------------------------------------------------------------------------------
# Who made a rating


def check_rater(user_id: str) -> None:
    """A page's rating form: only as yourself in trusted-header mode (a 403 otherwise)."""
    if not is_open():
        user_for(user_id)


def rating_source(session_id: str) -> str:
    """What a stored rating records as its source: the token, the proxy's user, or the session."""
    if (name := token_name()) is not None:
        return f"token:{name}"
    if (me := signed_in_user()) is not None:
        return f"proxy:{me}"
    if request.blueprint == "api":
        return f"api:{client_address()}"
    return f"session:{session_id}"


# ---------------------------------------------------------------------------------------------
# Rate limits


def client_key() -> str:
    """Whose budget a request spends: a token's, a signed-in user's, else the address's."""
    if request.blueprint == "api" and (name := token_name()) is not None:
        return f"token:{name}"
    if (me := signed_in_user()) is not None:
        return f"user:{me}"
    return f"address:{client_address()}"


def limited(name: str) -> Callable[[V], V]:
    """Mark a view for the named limit (WRITES, READS): `@limited(READS)` under the route.

    Only a mark: `install_limits` applies it to each app, whose limiter and settings are its own.
    """
    if name not in LIMIT_SETTINGS:
        raise ValueError(f"no limit called {name!r}")

    def mark(view: V) -> V:
        view.movie_limits = (*getattr(view, "movie_limits", ()), name)  # type: ignore[attr-defined]
        return view

    return mark


def install_limits(app: Flask) -> Limiter:
    """One limiter per app: in Redis when CACHE_URL is set, in memory otherwise."""
    limiter = Limiter(
        key_func=client_key,
        storage_uri=storage_uri(app.config["CACHE_URL"]),
        strategy="moving-window",
        headers_enabled=True,  # Retry-After, and X-RateLimit-* for API clients
        key_prefix="movie-recs",
        # Limits must not take the site down with them: with Redis unreachable, each process
        # counts in memory until it is back (and says so in the log).
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    # Registered first so that it runs after the limiter's own (Flask runs them in reverse).
    app.after_request(_retry_after_only_on_refusals)
    limiter.init_app(app)
    app.extensions["movie_limiter"] = limiter
    for endpoint, view in list(app.view_functions.items()):
        for name in getattr(view, "movie_limits", ()):
            if (limit := _limit_for(app, name)) is not None:
                view = limit(view)
        app.view_functions[endpoint] = view
    return limiter


def _retry_after_only_on_refusals(response: Response) -> Response:
    # The limiter adds Retry-After to every limited response; it means something on a 429 only.
    if response.status_code < 400:
        response.headers.pop("Retry-After", None)
    return response


def _limit_for(app: Flask, name: str) -> Any:
    value = app.config[LIMIT_SETTINGS[name]]
    if not value:
        return None
    message = f"{_LIMIT_MESSAGES[name]} (at most {value}). Wait a little and try again."
    return current_limiter(app).shared_limit(value, scope=name, error_message=message)


def current_limiter(app: Flask | None = None) -> Limiter:
    return (app or current_app).extensions["movie_limiter"]


def storage_uri(cache_url: str) -> str:
    """The `limits` storage for CACHE_URL: the same Redis, or memory."""
    if not cache_url:
        return "memory://"
    if cache_url.lower().startswith("unix://"):
        return "redis+unix://" + cache_url[len("unix://"):]
    return cache_url


def charge_new_user(user_id: str, history: Callable[[str], list[Any]]) -> None:
    """In open mode, rating as a user ID nobody has rated as yet spends the NEW_USERS budget."""
    if not is_open():
        return
    try:
        if history(user_id):
            return
    except RecommenderUnavailable:
        return  # the ratings can't be read: the write that follows fails and says so
    charge_guest()


def charge_guest() -> None:
    """A new user ID ("I'm new here", or a first rating) in open mode: a 429 past the limit."""
    value = current_app.config["RATE_LIMIT_NEW_USERS"]
    if not is_open() or not value:
        return
    message = f"{_LIMIT_MESSAGES[NEW_USERS]} (at most {value}). Wait a little and try again."
    # The limiter's documented form for a limit inside a view: it raises RateLimitExceeded.
    with current_limiter().shared_limit(value, scope=NEW_USERS, error_message=message):
        pass
