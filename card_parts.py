"""Movie cards, rendered once per movie and filled in for each visitor.

A card's markup (templates/_card.html) depends almost wholly on the movie: its poster, genres,
OMDb facts and five star buttons. Rendering and escaping all of it again for every card of
every page was most of a results page's time. So a card is rendered once, with markers where
the visitor's parts go (the movie link carrying their user ID, why the movie is there, the
form's fields with their session's token), split at the markers and kept; each page then only
escapes and places those few parts. The kept pieces are keyed by everything else they show,
so they are never stale.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from flask import Flask
from jinja2 import Template
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from dataset import Movie
    from omdb import MovieDetails
    from pages import Card, RatingForm

# Cards kept per app. Each is about 2 kB, so a worker holds a few MB at most; a popular
# movie's card is reused by every page that shows it.
CARDS_KEPT = 1024

# Unguessable, so no title or plot can contain a marker and be mistaken for one.
_MARKER = f"\0{secrets.token_hex(8)}:"
_MARKERS = re.compile(re.escape(_MARKER) + r"(\w+)\0")


def _slot(name: str) -> Markup:
    return Markup(f"{_MARKER}{name}\0")


class Links(Protocol):
    """What a card needs of the page it is on (pages.PageLinks)."""

    placeholder_poster: str

    def movie(self, item_id: str, user_id: str | None = None) -> str: ...

    def rating_form(self, user_id: str) -> RatingForm: ...


class CardParts:
    """Cards as the kept pieces between the visitor's parts."""

    def __init__(self, app: Flask, links: Callable[[], Links]) -> None:
        self._app = app
        self._links = links
        self._pieces = lru_cache(maxsize=CARDS_KEPT)(self._render_pieces)

    def cards(
        self, cards: Iterable[Card], compact: bool = False, rate_as: str | None = None
    ) -> Markup:
        """The cards of a list; `rate_as`, a user ID, gives each card a rating form."""
        links = self._links()
        form = links.rating_form(rate_as) if rate_as and not compact else None
        # Asked for each list: with template reloading on (debug), an edited _card.html is a
        # new Template, and so a new key below, rather than stale cards.
        template = self._app.jinja_env.get_template("_card.html")
        return Markup("").join(
            self._card(template, card, links, compact, rate_as, form) for card in cards
        )

    def _card(
        self,
        template: Template,
        card: Card,
        links: Links,
        compact: bool,
        rate_as: str | None,
        form: RatingForm | None,
    ) -> Markup:
        shows_reason = bool(card.reason) and not compact
        pieces = self._pieces(
            template,
            card.movie,
            card.details,
            card.rating,
            compact,
            shows_reason,
            form.action if form else None,
            links.placeholder_poster,
        )
        visitor = {
            "movie_url": escape(links.movie(card.movie.item_id, rate_as)),
            "reason": escape(card.reason or ""),  # placed only where the card shows one
            "form_fields": form.fields if form else "",
        }
        markup, names = pieces[0::2], pieces[1::2]  # they alternate: markup, a marker's name, ...
        filled = [markup[0]]
        for name, after in zip(names, markup[1:], strict=True):
            filled += (visitor[name], after)
        # The markup came from the template and the visitor's parts are escaped above.
        return Markup("".join(filled))

    def _render_pieces(
        self,
        template: Template,
        movie: Movie,
        details: MovieDetails | None,
        rating: float | None,
        compact: bool,
        shows_reason: bool,
        form_action: str | None,
        placeholder: str,
    ) -> tuple[str, ...]:
        """The card rendered with markers, split at them: markup and markers' names in turn."""
        html = template.module.card(
            movie, details, rating,
            movie_url=_slot("movie_url"),
            reason=_slot("reason") if shows_reason else None,
            placeholder=placeholder,
            compact=compact,
            form_action=form_action,
            form_fields=_slot("form_fields"),  # shown only with a form_action
        )
        return tuple(_MARKERS.split(str(html)))


def init_app(app: Flask, links: Callable[[], Links]) -> None:
    """Give the app's templates `card_parts`, one cache for the app's lifetime; `links` gives
    the current page's links (pages.page_links)."""
    app.jinja_env.globals["card_parts"] = CardParts(app, links)
