"""Input rules: what a user ID, movie ID, count, rating or genre must look like.

Shared by the pages, the API and the data-file checks, so a value means the same everywhere.
`InvalidInput` carries a message that says how to fix the value. No Flask here: callers pass
the raw text and map `InvalidInput` to their own answer (a form with a message, a JSON 400).
"""

from __future__ import annotations

import unicodedata

MAX_ID_LENGTH = 256  # Personalize's limit for USER_ID, ITEM_ID and sessionId
MAX_RESULTS = 100  # the most movies one page or API call asks for
MAX_QUERY_LENGTH = 200  # longer than any title: a longer search is a mistake, not a title


class InvalidInput(ValueError):
    """Input a person typed that the app cannot use; the message says how to fix it."""


def parse_user_id(raw: str | None) -> str:
    """A user ID as Personalize accepts it: 1 to 256 characters, no control characters."""
    return _parse_id(raw, "user ID", "Enter a user ID, for example 1.")


def parse_item_id(raw: str | None) -> str:
    return _parse_id(raw, "movie ID", "Give a movie ID (item_id).")


def parse_session_id(raw: str | None, default: str) -> str:
    """Personalize's sessionId, under the same rules as the IDs; blank means `default`."""
    if raw is None or not raw.strip():
        return default
    return _parse_id(raw, "session ID", "")


def _parse_id(raw: str | None, what: str, when_empty: str) -> str:
    value = (raw or "").strip()
    if not value:
        raise InvalidInput(when_empty)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"A {what} has at most {MAX_ID_LENGTH} characters; this one has {len(value)}."
        )
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidInput(f"A {what} cannot contain control characters such as tabs or newlines.")
    if any(unicodedata.category(char) == "Cs" for char in value):
        # JSON can carry "\ud800" alone; it has no UTF-8 form, so no store or AWS call takes it.
        raise InvalidInput(f"A {what} must be Unicode text; this one has a lone surrogate.")
    return value


def parse_count(raw: object, default: int) -> int:
    """The number of recommendations: a whole number from 1 to 100 (blank means the default)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        count = int(raw.strip()) if isinstance(raw, str) else _whole(raw)
    except (TypeError, ValueError):
        raise InvalidInput("The number of movies must be a whole number from 1 to 100.") from None
    if not 1 <= count <= MAX_RESULTS:
        raise InvalidInput(f"The number of movies must be from 1 to {MAX_RESULTS}; got {count}.")
    return count


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a whole number")
    return value


def parse_rating(raw: object) -> float:
    """A rating from 1 to 5 stars, in whole or half stars."""
    try:
        if isinstance(raw, bool):
            raise TypeError("a boolean is not a rating")
        rating = float(raw.strip()) if isinstance(raw, str) else float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer of 400 digits
        raise InvalidInput("A rating is a number of stars from 1 to 5.") from None
    if not 1 <= rating <= 5 or rating * 2 != int(rating * 2):
        raise InvalidInput("A rating is from 1 to 5 stars, in whole or half stars.")
    return rating


def parse_genre(raw: str | None, genres: list[str]) -> str | None:
    """One of `genres` (the catalogue's), or None when blank."""
    genre = (raw or "").strip()
    if not genre:
        return None
    if genre not in genres:
        raise InvalidInput(f"There is no genre called {genre[:40]!r} in the catalogue.")
    return genre


def parse_query(raw: str | None) -> str | None:
    """A title search: up to 200 characters of text; None when blank."""
    query = (raw or "").strip()
    if not query:
        return None
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"A search has at most {MAX_QUERY_LENGTH} characters.")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in query):
        raise InvalidInput("A search is plain text, without control characters.")
    return query


def parse_choice(raw: str | None, choices: tuple[str, ...], what: str, default: str) -> str:
    """One of `choices` (blank means `default`); the message lists them."""
    value = (raw or "").strip()
    if not value:
        return default
    if value not in choices:
        raise InvalidInput(f"The {what} must be one of {', '.join(choices)}.")
    return value
