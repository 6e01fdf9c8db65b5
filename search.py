"""Title search, ranked for the user: find movies by title, then let a ranker order them.

`TitleIndex` matches titles the way people type them: case and accents don't matter ("amelie"
finds "Amélie"), nor a leading or trailing article ("Matrix, The", "The Matrix" and "matrix"
are the same), the last word may be unfinished ("termin"), and a word may carry a small typo
("matirx"), scored with difflib from the standard library. Exact and prefix matches come
before typo matches.

`search_titles` then re-orders the matches for one user through a `Ranker`: Amazon
Personalize's GetPersonalizedRanking (personalize_shelves.py) or the embedded engine's scores
(`EmbeddedRanker`). A ranker that cannot rank for this user, or fails, leaves the matches in
text order and the answer says it was not ranked. No Flask here.
"""

from __future__ import annotations

import bisect
import difflib
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dataset import Catalog, Movie, parse_title
from recommender.interface import Rated, Recommender, RecommenderUnavailable

logger = logging.getLogger(__name__)

# Leading articles dropped from titles and queries alike: "The Matrix" is found by "matrix".
ARTICLES = frozenset({"the", "a", "an"})
FUZZY_CUTOFF = 0.75  # difflib ratio from which a word counts as the same word, mistyped
FUZZY_MIN_LENGTH = 4  # shorter words match exactly or as a prefix only: "cat" is not "car"
EXACT, PREFIX = 1.0, 0.9  # how well a query word matches a title word (typos score below)

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> list[str]:
    """A title's or query's words without case, accents, punctuation or a leading article."""
    title, _year = parse_title(text)  # "Matrix, The (1999)" -> "The Matrix"
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = _WORD.findall(plain)
    if len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    return words


def _leading_article(title: str) -> list[str]:
    words = fold(title)
    full = _WORD.findall(unicodedata.normalize("NFKD", parse_title(title)[0].casefold()))
    return full[:1] if len(full) > len(words) else []


@dataclass(frozen=True)
class Match:
    movie: Movie
    score: float  # 0-1: how well the title matches the words typed
    typo: bool  # True when a word only matched with a typo


class TitleIndex:
    """Every catalogue title by its folded words, for matching what a person types."""

    def __init__(self, movies: Iterable[Movie]) -> None:
        self._movies = list(movies)
        self._words = [fold(movie.title) for movie in self._movies]
        postings: dict[str, set[int]] = defaultdict(set)
        for position, words in enumerate(self._words):
            # The dropped article is findable too: "the" alone, as typed, finds "The Thing".
            for word in {*words, *_leading_article(self._movies[position].title)}:
                postings[word].add(position)
        self._postings = dict(postings)
        self._vocabulary = sorted(self._postings)
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for word in self._vocabulary:
            self._by_length[len(word)].append(word)

    @classmethod
    def of(cls, catalog: Catalog) -> TitleIndex:
        return cls(catalog)

    def __len__(self) -> int:
        return len(self._movies)

    def find(self, query: str, limit: int) -> list[Match]:
        """The best `limit` titles for the query: exact and prefix matches first, then typos."""
        words = fold(query)
        if not words or limit < 1:
            return []
        # For each title, each query word's best match there: exact, prefix or typo.
        quality: dict[int, list[float]] = defaultdict(lambda: [0.0] * len(words))
        for slot, word in enumerate(words):
            for candidate, how_well in self._similar_words(word).items():
                for position in self._postings[candidate]:
                    quality[position][slot] = max(quality[position][slot], how_well)
        matches = [
            self._match(position, words, found)
            for position, found in quality.items()
            if all(found)
        ]
        matches.sort(key=lambda match: (match.typo, -match.score, len(match.movie.title),
                                        match.movie.title))
        return matches[:limit]

    def _similar_words(self, word: str) -> dict[str, float]:
        """Title words that match one query word, and how well."""
        found: dict[str, float] = {}
        start = bisect.bisect_left(self._vocabulary, word)
        for candidate in self._vocabulary[start:]:
            if not candidate.startswith(word):
                break
            found[candidate] = EXACT if candidate == word else PREFIX
        if len(word) >= FUZZY_MIN_LENGTH:
            nearby = [
                candidate
                for length in range(len(word) - 2, len(word) + 3)
                for candidate in self._by_length.get(length, ())
            ]
            for candidate in difflib.get_close_matches(word, nearby, n=20, cutoff=FUZZY_CUTOFF):
                score = difflib.SequenceMatcher(None, word, candidate).ratio() * PREFIX * 0.9
                found.setdefault(candidate, score)
        return found

    def _match(self, position: int, words: list[str], found: list[float]) -> Match:
        title_words = self._words[position]
        score = sum(found) / len(words)
        # The same words in the same order, and few others, make a title fit better.
        if title_words[: len(words)] == words:
            score += 0.5
        score += 0.2 * len(words) / max(len(title_words), 1)
        return Match(self._movies[position], score / 1.7, typo=min(found) < PREFIX)


# ---------------------------------------------------------------------------------------------
# Ranking for a user


class Ranker(Protocol):
    """Re-orders candidate items for one user, as GetPersonalizedRanking does."""

    @property
    def description(self) -> str:
        """Names the ranking's source for people."""
        ...

    def rank(self, user_id: str, item_ids: Sequence[str]) -> list[str] | None:
        """All of `item_ids`, best for the user first (items it cannot score at the end, in
        their given order); None when it knows nothing of the user. RecommenderUnavailable when
        it fails."""
        ...


class EmbeddedRanker:
    """Ranks by the embedded engine's scores for the user.

    The engine scores items through its `recommend` (every item it knows, best first), so rated
    items, which it never recommends, go to the end with the items it does not know; Personalize
    also puts items it cannot score at the end. A user without ratings is not ranked: a
    popularity order is not "for you".
    """

    def __init__(
        self,
        recommender: Recommender,
        n_items: int,
        history: Callable[[str], Sequence[Rated]] | None = None,
    ) -> None:
        """`history`: reads a user's history from the shared store, so the order follows their
        newest ratings in every process (None: as the model was trained)."""
        self._recommender = recommender
        self._n_items = max(n_items, 1)
        self._history = history

    @property
    def description(self) -> str:
        return self._recommender.description

    def rank(self, user_id: str, item_ids: Sequence[str]) -> list[str] | None:
        history = self._history(user_id) if self._history is not None else None
        listing = self._recommender.recommend(user_id, self._n_items, history=history)
        if listing.cold_start:
            return None
        order = {item.item_id: place for place, item in enumerate(listing.items)}
        return order_by(item_ids, order)


def order_by(item_ids: Sequence[str], order: dict[str, int]) -> list[str]:
    """`item_ids` by their place in `order`; those without one after, in their given order."""
    unplaced = len(order)
    return sorted(item_ids, key=lambda item_id: order.get(item_id, unplaced))


@dataclass(frozen=True)
class SearchResults:
    query: str
    movies: list[Movie]
    ranked_by: str | None = None  # the ranker's description, when a ranking was applied
    notice: str | None = None  # why results are not ranked, when a ranker failed

    @property
    def ranked(self) -> bool:
        return self.ranked_by is not None


def search_titles(
    index: TitleIndex,
    query: str,
    limit: int,
    *,
    user_id: str | None = None,
    ranker: Ranker | None = None,
) -> SearchResults:
    """Titles matching the query; re-ranked for the user when a ranker can.

    Close matches (every word exact or a prefix) stay ahead of typo matches; within each group
    the ranker decides the order. A ranker's failure costs only the ranking.
    """
    matches = index.find(query, limit)
    movies = [match.movie for match in matches]
    if not movies or user_id is None or ranker is None:
        return SearchResults(query, movies)
    try:
        ranking = ranker.rank(user_id, [movie.item_id for movie in movies])
    except RecommenderUnavailable as problem:
        logger.warning("Search results not ranked: %s", problem.reason)
        return SearchResults(query, movies, notice=f"Not ranked for you: {problem.reason}")
    if ranking is None:
        return SearchResults(query, movies)
    place = {item_id: position for position, item_id in enumerate(ranking)}
    by_id = {match.movie.item_id: match for match in matches}
    ordered = sorted(movies, key=lambda movie: (by_id[movie.item_id].typo,
                                                place.get(movie.item_id, len(place))))
    return SearchResults(query, ordered, ranked_by=ranker.description)
