"""OMDb enrichment: poster, plot and credits for catalogue movies, fetched concurrently and cached.

A page costs one OMDb round trip at most: cached answers are read on the calling thread, and all
the misses are sent at once on a long-lived pool sized for the largest page. The cache is SQLite
under instance/ by default, or Redis when a cache URL is set.

The API key travels only as the ``apikey`` query parameter. requests-cache is told to ignore it,
so it is neither part of a cache key nor written to the cache, and this module never logs a
requests exception's text (it holds the full URL, key included), only the exception's class name.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
import requests
import requests_cache
from requests.adapters import HTTPAdapter

from dataset import Movie
from recent_answers import RecentAnswers

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.omdbapi.com/"
CACHE_EXPIRY = timedelta(days=30)
# The largest page (NUM_RESULTS and the n parameter stop at 100): its lookups all go at once.
MAX_CONCURRENT = 100
# Parsed answers kept in memory per process (about 1 KB each); older ones are read from the cache.
RECENT_ANSWERS = 4096
# A cache that does not answer within this many seconds counts as down, like OMDb would.
CACHE_TIMEOUT = 2.0
# What a cache backend raises when its file or server is unusable.
CACHE_ERRORS = (sqlite3.Error, redis.RedisError, OSError)

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
    return text.strip() if isinstance(text, str) and text.strip() not in ("", "N/A") else None


def _json_body(response: requests.Response) -> dict[str, Any] | None:
    """The answer's JSON object, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:  # requests' JSONDecodeError is a ValueError
        return None
    return body if isinstance(body, dict) else None


def is_cacheable(response: requests.Response) -> bool:
    """Cache movies and "not found"; never key, quota or server errors, which can clear up."""
    body = _json_body(response) if response.status_code == 200 else None
    if body is None:
        return False
    return body.get("Response") == "True" or body.get("Error") in NOT_FOUND_ERRORS


def build_session(
    cache_path: str | Path | None,
    *,
    cache_url: str = "",
    expire_after: timedelta = CACHE_EXPIRY,
    pool_size: int = MAX_CONCURRENT,
) -> requests_cache.CachedSession:
    """A session caching OMDb answers in Redis at cache_url, else SQLite at cache_path (or memory).

    Its connection pool keeps pool_size connections to OMDb, so a page's concurrent lookups
    neither wait for one nor open and then discard extra ones.
    """
    settings: dict[str, Any] = {
        "expire_after": expire_after,
        "allowable_codes": (200,),
        "allowable_methods": ("GET",),
        "filter_fn": is_cacheable,
        # Keeps the key out of cache keys and replaces it with "REDACTED" in stored URLs.
        "ignored_parameters": ["apikey"],
        # No stale_if_error: requests-cache then logs a traceback whose text holds the URL.
    }
    if cache_url:
        connection = redis.Redis.from_url(
            cache_url, socket_timeout=CACHE_TIMEOUT, socket_connect_timeout=CACHE_TIMEOUT
        )
        backend: Any = requests_cache.RedisCache(namespace="omdb", connection=connection)
        session = requests_cache.CachedSession(backend=backend, **settings)
    elif cache_path is None:
        session = requests_cache.CachedSession(backend="memory", **settings)
    else:
        path = Path(cache_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL: a commit needs no fsync, so a cold page's answers are not written one disk sync
        # after another, and readers (other workers) do not wait for a writer.
        session = requests_cache.CachedSession(str(path), backend="sqlite", wal=True, **settings)
    adapter = HTTPAdapter(pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


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


Query = tuple[tuple[str, str], ...]
class OmdbClient:
    """Looks movies up on OMDb; without an API key it is disabled and never touches the network."""

    def __init__(
        self,
        api_key: str | None,
        *,
        session: requests.Session | None = None,
        cache_path: str | Path | None = None,
        cache_url: str = "",
        timeout: tuple[float, float] = (3.05, 5.0),
        max_workers: int = MAX_CONCURRENT,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self._api_key = (api_key or "").strip() or None
        self._timeout = timeout
        self._max_workers = max(1, max_workers)
        self._base_url = base_url
        # Build (and create the cache file) only when the client can be used.
        self._owns_session = session is None and self._api_key is not None
        if self._owns_session:
            session = build_session(cache_path, cache_url=cache_url, pool_size=self._max_workers)
        self._session = session
        self._recent = RecentAnswers(RECENT_ANSWERS)
        self._thread = threading.local()  # .cache_only, set by cache_only()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OmdbClient(enabled={self.enabled}, base_url={self._base_url!r})"

    @property
    def enabled(self) -> bool:
        return self._api_key is not None and self._session is not None

    def lookup(self, movie: Movie) -> MovieDetails | None:
        """OMDb's details for one movie; None when there are none or OMDb cannot be asked."""
        return self.details([movie])[movie.item_id]

    def details(self, movies: Sequence[Movie]) -> dict[str, MovieDetails | None]:
        """Details for each movie, keyed by item_id: cached ones at once, the rest concurrently."""
        unique = list({movie.item_id: movie for movie in movies}.values())
        if not self.enabled or not unique:
            return {movie.item_id: None for movie in unique}
        breaker = _Breaker()
        found: dict[str, MovieDetails | None] = {}
        misses: list[Movie] = []
        for movie in unique:
            known, details = self._recent.get(self._query(movie))
            if not known:
                known, details = self._cached(movie, breaker)
            if known:
                found[movie.item_id] = details
            else:
                misses.append(movie)
        if not getattr(self._thread, "cache_only", False):
            found.update(self._fetch(misses, breaker))
        return {movie.item_id: found.get(movie.item_id) for movie in unique}

    @contextmanager
    def cache_only(self) -> Iterator[None]:
        """Within it, this thread's lookups answer from the cache and send no request.

        For a worker warming itself up: it must not spend the key's daily quota on every start.
        """
        self._thread.cache_only = True
        try:
            yield
        finally:
            self._thread.cache_only = False

    def close(self) -> None:
        """Stop the lookup threads; close the session (and its cache) if this client made it."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        if self._owns_session and self._session is not None:
            self._session.close()

    def _cached(self, movie: Movie, breaker: _Breaker) -> tuple[bool, MovieDetails | None]:
        """(True, details) from an unexpired cached answer, read here: no thread, no request."""
        cache = getattr(self._session, "cache", None)  # an injected plain Session has none
        if cache is None or breaker.is_open:
            return False, None
        # The key requests-cache gives this request when the session sends it (apikey ignored).
        request = requests.Request("GET", self._base_url, params=self._params(movie)).prepare()
        try:
            response = cache.get_response(cache.create_key(request))
        except CACHE_ERRORS as exc:
            _cache_failed(exc, breaker)
            return False, None
        if response is None or response.is_expired:
            return False, None
        return True, self._read_and_remember(response, movie, breaker)

    def _fetch(self, movies: list[Movie], breaker: _Breaker) -> dict[str, MovieDetails | None]:
        """Ask OMDb about all the movies at once: one round trip for the page, not one each."""
        if breaker.is_open:
            return {movie.item_id: None for movie in movies}
        if len(movies) <= 1:  # nothing to overlap with: no thread hop
            return {movie.item_id: self._lookup(movie, breaker) for movie in movies}
        pool = self._executor()
        futures = [pool.submit(self._lookup, movie, breaker) for movie in movies]
        return {
            movie.item_id: future.result() for movie, future in zip(movies, futures, strict=True)
        }

    def _executor(self) -> ThreadPoolExecutor:
        """One pool per process, reused by every page; a forked worker makes its own."""
        with self._pool_lock:
            # Threads do not survive fork: a pool inherited from the parent would never run.
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="omdb")
                self._pool_pid = os.getpid()
            return self._pool

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
        except CACHE_ERRORS as exc:
            _cache_failed(exc, breaker)
            return None
        return self._read_and_remember(response, movie, breaker)

    def _read_and_remember(
        self, response: requests.Response, movie: Movie, breaker: _Breaker
    ) -> MovieDetails | None:
        details = self._read(response, movie, breaker)
        # Only what requests-cache holds (it set cache_key), never an error; None never expires.
        if getattr(response, "cache_key", None):
            self._recent.put(self._query(movie), details, getattr(response, "expires", None))
        return details

    def _params(self, movie: Movie) -> dict[str, str]:
        return {"apikey": self._api_key or "", **dict(self._query(movie))}

    def _query(self, movie: Movie) -> Query:
        """What identifies the movie to OMDb, without the key."""
        imdb_id = normalise_imdb_id(movie.imdb_id)
        if imdb_id:
            return (("i", imdb_id),)
        query = [("t", _ALTERNATIVE_TITLE.sub("", movie.title) or movie.title), ("type", "movie")]
        if movie.year:
            query.append(("y", str(movie.year)))
        return tuple(query)

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


def _cache_failed(exc: Exception, breaker: _Breaker) -> None:
    # A Redis error's text can name the server; the class name says enough.
    breaker.trip(f"OMDb cache unavailable ({type(exc).__name__}); pages go without OMDb details")


def _failure(exc: requests.RequestException) -> str:
    # ConnectTimeout is both a Timeout and a ConnectionError; call it a timeout.
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "could not be reached"
    return "request failed"
