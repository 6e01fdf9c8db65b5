"""The parts of a movie card that are the same for every visitor, rendered once and kept.

Most of a card's markup (its poster, genres, OMDb facts and five star buttons) depends on the
movie alone, and escaping it again for every card of every page was most of a results page's
time. Those parts come from templates/_card_parts.html through a bounded cache per app; what
depends on the visitor (links carrying their user ID, the form's token, why the movie is
there) is still rendered for each request, by templates/_card.html.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Flask
from markupsafe import Markup

from dataset import Movie
from omdb import MovieDetails

# Entries kept per kind of part. Each is under 2 kB, so a worker holds a few MB at most;
# a popular movie's parts are reused by every page that shows it.
PARTS_KEPT = 1024


class CardParts:
    """Rendered card parts, keyed by everything they show (so never stale)."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self.poster = lru_cache(maxsize=PARTS_KEPT)(self._poster)
        self.facts = lru_cache(maxsize=PARTS_KEPT)(self._facts)
        self.stars = lru_cache(maxsize=PARTS_KEPT)(self._stars)

    def _macro(self, name: str) -> Any:
        return getattr(self._app.jinja_env.get_template("_card_parts.html").module, name)

    def _poster(self, movie: Movie, details: MovieDetails | None, placeholder: str) -> Markup:
        return self._macro("poster")(movie, details, placeholder)

    def _facts(self, movie: Movie, details: MovieDetails | None, compact: bool) -> Markup:
        return self._macro("facts")(movie, details, compact)

    def _stars(self, movie: Movie, rating: float | None) -> Markup:
        return self._macro("stars")(movie, rating)


def init_app(app: Flask) -> None:
    """Give the app's templates `card_parts`, one cache for the app's lifetime."""
    app.jinja_env.globals["card_parts"] = CardParts(app)
