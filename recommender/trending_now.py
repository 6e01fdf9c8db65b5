"""trending-now: the items whose interactions grew most in the latest window, the same for everyone.

Like Personalize's Trending-Now, it compares each item's interactions in the latest window of
`ModelParams.trending_window_days` with the window before it. "Now" is the newest TIMESTAMP in
the data, not the clock, so a dataset that ended years ago still has a trend: its last weeks.
Every user gets the same list minus what they rated, a user the model has never seen included
(Personalize asks Trending-Now for no userId); "most popular" stays the all-time count, and
"more like this" answers with it, as popularity-count does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp

from dataset import Interactions
from recommender.base import EmbeddedRecommender
from recommender.interface import Rated, RecommendationList
from recommender.model_files import Part, TrainedModel
from recommender.users import UserState

SECONDS_PER_DAY = 86_400
# Added to both windows' counts: an item going from 0 to 1 interaction grows 2x, not infinitely.
SMOOTHING = 1.0


class TrendingNow(EmbeddedRecommender):
    name = "trending-now"

    @classmethod
    def fit_parts(
        cls,
        model: TrainedModel,
        interactions: Interactions,
        matrix: sp.csr_matrix,
        progress: bool,
    ) -> dict[str, Part]:
        recent, previous = window_counts(interactions, model.params.trending_window_days)
        return {"trend": trend_scores(recent, previous), "recent": recent}

    def _prepare(self) -> None:
        self._trend: np.ndarray = self._model.parts["trend"]
        recent = self._model.parts["recent"]
        # Items that are not rising (score 0) follow in order of their interactions in the
        # window, then of all time: what is watched now, then what is popular, not ID order.
        order = np.lexsort((self._id_rank, -self._model.popularity, -recent))
        self._tie_rank = np.empty_like(order)
        self._tie_rank[order] = np.arange(len(order))

    def _scores(self, state: UserState) -> np.ndarray:
        return self._trend.copy()

    def recommend(
        self,
        user_id: str,
        n: int,
        *,
        exclude: Collection[str] = (),
        genre: str | None = None,
        history: Sequence[Rated] | None = None,
    ) -> RecommendationList:
        """The trending items, for a user unknown to the model too; never one the user rated."""
        state = self._users.state(user_id, history)
        rated = state.rated if state is not None else np.empty(0, dtype=np.int64)
        excluded = np.concatenate([rated, self._codes(exclude)]).astype(np.int64)
        return RecommendationList(self._top(self._trend.copy(), n, excluded, genre))


def window_counts(interactions: Interactions, window_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Each item's interactions in the latest window (ending at the newest timestamp) and in
    the window before it."""
    timestamps = interactions.timestamps
    now = timestamps.max()
    width = window_days * SECONDS_PER_DAY
    age = now - timestamps  # 0 for the newest interaction
    recent = np.bincount(interactions.items[age < width], minlength=interactions.n_items)
    before = (age >= width) & (age < 2 * width)
    previous = np.bincount(interactions.items[before], minlength=interactions.n_items)
    return recent.astype(np.int64), previous.astype(np.int64)


def trend_scores(recent: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """How strongly each item is rising: recent x log(growth), 0 for items not rising.

    The growth (recent + 1) / (previous + 1) alone would put an item going from 0 to 2
    interactions (3x) above one going from 100 to 250 (2.5x); weighting its logarithm by the
    recent count makes the score the evidence for a rise (it is the term of the G-test, the
    log-likelihood ratio of "this window's rate" against "the last one's"), so volume counts
    and one or two interactions cannot top the list. Falling and idle items score 0 and are
    ordered by the caller's tie rank.
    """
    growth = (recent + SMOOTHING) / (previous + SMOOTHING)
    return np.maximum(recent * np.log(growth), 0.0).astype(np.float32)
