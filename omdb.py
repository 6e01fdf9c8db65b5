"""OMDb enrichment: poster, plot and credits for catalogue movies, fetched concurrently and cached.

The API key travels only as the ``apikey`` query parameter. requests-cache is told to ignore it,
so it is neither part of a cache key nor written to the SQLite file, and this module never logs a
requests exception's text (it holds the full URL, key included), only the exception's class name.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import requests_cache

from dataset import Movie

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.omdbapi.com/"
CACHE_EXPIRY = timedelta(days=30)

# Answers about the movie itself: asking again tomorrow gives the same reply, so they are cached.
NOT_FOUND_ERRORS = frozenset({"Movie not found!", "Incorrect IMDb ID."})
# Answers about the key; a fixed key must work at once, so they are never cached.
KEY_ERRORS = frozenset({"Invalid API key!", "No API key provided."})

_IMDB_ID = re.compile(r"^(?:tt)?(\d{1,10})$", re.IGNORECASE)
# "Seven (a.k.a. Se7en)": MovieLens appends alternative titles that OMDb does not know.
_ALTERNATIVE_TITLE = re.compile(r"\s*\([^()]*\)$")


@dataclass(frozen=True)
class MovieDetails:
    """What OMDb adds to a catalogue movie; every field is OMDb's string, or None for "N/A"."""

    poster_url: str | None = None
    plot: str | None = None
    runtime: str | None = None
    imdb_rating: str | None = None
    imdb_id: str | None = None
    director: str | None = None
    actors: str | None = None

    @property
    def imdb_url(self) -> str | None:
        return f"https://www.imdb.com/title/{self.imdb_id}/" if self.imdb_id else None

    @classmethod
    def from_omdb(cls, body: Mapping[str, Any]) -> MovieDetails:
        """Build from a successful OMDb answer ("Response": "True")."""
        poster = _value(body, "Poster")
        # Only web URLs may reach an <img src>; anything else counts as no poster.
        if poster and not poster.startswith(("https://", "http://")):
            poster = None
        return cls(
            poster_url=poster,
            plot=_value(body, "Plot"),
            runtime=_value(body, "Runtime"),
            imdb_rating=_value(body, "imdbRating"),
            imdb_id=_value(body, "imdbID"),
            director=_value(body, "Director"),
            actors=_value(body, "Actors"),
        )


def _value(body: Mapping[str, Any], field: str) -> str | None:
    text = body.get(field)
    if not isinstance(text, str) or text.strip() in ("", "N/A"):
        return None
    return text.strip()


def _json_body(response: requests.Response) -> dict[str, Any] | None:
    """The answer's JSON object, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:  # requests' JSONDecodeError is a ValueError
        return None
    return body if isinstance(body, dict) else None


def is_cacheable(response: requests.Response) -> bool:
    """Cache movies and "not found"; never key, quota or server errors, which can clear up."""
    if response.status_code != 200:
        return False
    body = _json_body(response)
    if body is None:
        return False
    return body.get("Response") == "True" or body.get("Error") in NOT_FOUND_ERRORS


def build_session(
    cache_path: str | Path | None, *, expire_after: timedelta = CACHE_EXPIRY
) -> requests_cache.CachedSession:
    """A session caching OMDb answers in SQLite at cache_path (in memory when None)."""
    settings: dict[str, Any] = {
        "expire_after": expire_after,
        "allowable_codes": (200,),
        "allowable_methods": ("GET",),
        "filter_fn": is_cacheable,
        # Keeps the key out of cache keys and replaces it with "REDACTED" in stored URLs.
        "ignored_parameters": ["apikey"],
        # No stale_if_error: requests-cache then logs a traceback whose text holds the URL.
    }
    if cache_path is None:
        return requests_cache.CachedSession(backend="memory", **settings)
    path = Path(cache_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return requests_cache.CachedSession(str(path), backend="sqlite", **settings)


class _Breaker:
    """Shared by one details() call: once OMDb refuses the key or is unreachable, stop asking."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def trip(self, warning: str | None = None) -> None:
        """Stop further lookups; log the warning only for the first trip."""
        with self._lock:
            first, self._open = not self._open, True
        if first and warning:
            logger.warning(warning)


class OmdbClient:
    """Looks movies up on OMDb; without an API key it is disabled and never touches the network."""

    def __init__(
        self,
        api_key: str | None,
        *,
        session: requests.Session | None = None,
        cache_path: str | Path | None = None,
        timeout: tuple[float, float] = (3.05, 5.0),
        max_workers: int = 8,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self._api_key = (api_key or "").strip() or None
        self._timeout = timeout
        self._max_workers = max(1, max_workers)
        self._base_url = base_url
        # Build (and create the cache file) only when the client can be used.
        self._owns_session = session is None and self._api_key is not None
        self._session = build_session(cache_path) if self._owns_session else session

    def __repr__(self) -> str:
        return f"OmdbClient(enabled={self.enabled}, base_url={self._base_url!r})"

    @property
    def enabled(self) -> bool:
        return self._api_key is not None and self._session is not None

    def lookup(self, movie: Movie) -> MovieDetails | None:
        """OMDb's details for one movie; None when there are none or OMDb cannot be asked."""
        return self._lookup(movie, _Breaker())

    def details(self, movies: Sequence[Movie]) -> dict[str, MovieDetails | None]:
        """Details for each movie, keyed by item_id; the lookups run concurrently."""
        unique = list({movie.item_id: movie for movie in movies}.values())
        if not self.enabled or not unique:
            return {movie.item_id: None for movie in unique}
        breaker = _Breaker()
        workers = min(self._max_workers, len(unique))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="omdb") as pool:
            found = list(pool.map(lambda movie: self._lookup(movie, breaker), unique))
        return {movie.item_id: result for movie, result in zip(unique, found, strict=True)}

    def close(self) -> None:
        """Close the session (and its cache file) if this client created it."""
        if self._owns_session and self._session is not None:
            self._session.close()

    def _lookup(self, movie: Movie, breaker: _Breaker) -> MovieDetails | None:
        if not self.enabled or breaker.is_open:
            return None
        try:
            response = self._session.get(
                self._base_url, params=self._params(movie), timeout=self._timeout
            )
        except requests.RequestException as exc:
            # str(exc) contains the request URL with the key: log the class name only.
            logger.warning("OMDb %s for %s (%s)", _failure(exc), movie.label, type(exc).__name__)
            # Unreachable now means unreachable for the rest of this page too: don't wait again.
            breaker.trip()
            return None
        return self._read(response, movie, breaker)

    def _params(self, movie: Movie) -> dict[str, str]:
        params = {"apikey": self._api_key or ""}
        imdb_id = normalise_imdb_id(movie.imdb_id)
        if imdb_id:
            params["i"] = imdb_id
            return params
        params.update(t=_ALTERNATIVE_TITLE.sub("", movie.title) or movie.title, type="movie")
        if movie.year:
            params["y"] = str(movie.year)
        return params

    def _read(
        self, response: requests.Response, movie: Movie, breaker: _Breaker
    ) -> MovieDetails | None:
        """Interpret OMDb's JSON body; its HTTP status is unreliable (errors come as 200 or 401)."""
        body = _json_body(response)
        if body is None:
            logger.warning(
                "OMDb sent a non-JSON answer (HTTP %s) for %s", response.status_code, movie.label
            )
            return None
        if body.get("Response") == "True":
            return MovieDetails.from_omdb(body)
        error = str(body.get("Error") or "unknown error")
        if error in NOT_FOUND_ERRORS:
            logger.info("OMDb has no entry for %s", movie.label)
        elif error in KEY_ERRORS:
            breaker.trip("OMDb rejected the API key")
        elif "limit reached" in error.lower():  # "Request limit reached!" and the daily variant
            breaker.trip("OMDb request limit reached")
        else:
            logger.warning("OMDb error for %s: %s", movie.label, self._redact(error))
        return None

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def normalise_imdb_id(value: str | None) -> str | None:
    """Accept "tt0114709", "0114709" or "114709" (MovieLens drops the zeros); else None."""
    match = _IMDB_ID.match((value or "").strip())
    return f"tt{match[1].zfill(7)}" if match else None


def _failure(exc: requests.RequestException) -> str:
    # ConnectTimeout is both a Timeout and a ConnectionError; call it a timeout.
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "could not be reached"
    return "request failed"
