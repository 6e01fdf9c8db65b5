"""Title search: what a person types finds the title, and results are ranked for the user only
when a ranking was applied (GetPersonalizedRanking against botocore's Stubber, or the embedded
engine's scores)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aws_support import REGION, stubbed
from botocore.stub import ANY

from dataset import Catalog, Movie
from personalize_shelves import PersonalizeRanker
from recommender.interface import RecommenderUnavailable
from search import TitleIndex, fold, search_titles

RANKING = f"arn:aws:personalize:{REGION}:123456789012:campaign/movies-ranking"

CATALOG = Catalog([
    Movie("1", "The Matrix", 1999), Movie("2", "The Matrix Reloaded", 2003),
    Movie("3", "Amélie", 2001), Movie("4", "The Terminator", 1984),
    Movie("5", "Terminator 2: Judgment Day", 1991), Movie("6", "Die Hard", 1988),
    Movie("7", "A Matrix of Lies", 2010), Movie("8", "Batman Begins", 2005),
])
INDEX = TitleIndex.of(CATALOG)


def titles(query: str, limit: int = 10) -> list[str]:
    return [match.movie.title for match in INDEX.find(query, limit)]


# --- matching --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["matrix", "MATRIX", "The Matrix", "Matrix, The",
                                   "the matrix (1999)", "  matrix  "])
def test_case_and_articles_do_not_matter(query):
    assert titles(query)[0] == "The Matrix"


@pytest.mark.parametrize("query", ["Amelie", "amelie", "AMÉLIE", "Amélie (2001)"])
def test_accents_do_not_matter(query):
    assert titles(query) == ["Amélie"]


@pytest.mark.parametrize(("query", "found"), [("matirx", "The Matrix"),
                                              ("termnator", "The Terminator"),
                                              ("batmen begins", "Batman Begins")])
def test_a_small_typo_still_finds_the_title(query, found):
    assert titles(query)[0] == found


def test_an_unfinished_last_word_finds_titles_as_they_are_typed():
    assert titles("termin") == ["The Terminator", "Terminator 2: Judgment Day"]


def test_exact_matches_come_before_typo_matches():
    # "matrix" is exact in three titles; none of them is pushed below a fuzzy one.
    found = INDEX.find("matrix", 10)
    assert [match.typo for match in found] == sorted(match.typo for match in found)
    assert titles("matrix")[:2] == ["The Matrix", "The Matrix Reloaded"]


def test_short_words_are_not_matched_loosely_and_nonsense_finds_nothing():
    assert titles("dye") == []  # three letters: exact or prefix only, so not "Die"
    assert titles("zzzzzz") == []
    assert titles("") == [] and titles("!!!") == []


def test_folding_keeps_a_lone_article():
    assert fold("The") == ["the"]
    assert fold("Matrix, The (1999)") == fold("The Matrix") == ["matrix"]


# --- ranking for the user ------------------------------------------------------------------


class FixedRanker:
    description = "a test ranker"

    def __init__(self, order: list[str] | None = None, fail: bool = False) -> None:
        self.order, self.fail, self.asked = order, fail, []

    def rank(self, user_id: str, item_ids: Sequence[str]) -> list[str] | None:
        self.asked.append((user_id, list(item_ids)))
        if self.fail:
            raise RecommenderUnavailable("Amazon Personalize is throttling requests.")
        if self.order is None:
            return None
        return [item for item in self.order if item in item_ids]


def test_results_are_reordered_by_the_ranker_and_say_so():
    ranker = FixedRanker(["2", "7", "1"])
    results = search_titles(INDEX, "matrix", 10, user_id="42", ranker=ranker)

    assert [movie.item_id for movie in results.movies] == ["2", "7", "1"]
    assert results.ranked and results.ranked_by == "a test ranker"
    assert ranker.asked == [("42", ["1", "2", "7"])]


def test_typo_matches_stay_behind_close_matches_whatever_the_ranking():
    ranker = FixedRanker(["4", "5"])
    results = search_titles(INDEX, "terminator", 10, user_id="42", ranker=ranker)
    # Both are exact word matches here: the ranker decides.
    assert [movie.item_id for movie in results.movies] == ["4", "5"]
    typo = search_titles(INDEX, "termnator", 10, user_id="42", ranker=FixedRanker(["5", "4"]))
    assert [movie.item_id for movie in typo.movies] == ["5", "4"]


@pytest.mark.parametrize(
    ("user_id", "ranker"),
    [(None, FixedRanker(["2", "1"])), ("42", None), ("42", FixedRanker(None))],
    ids=["no-user", "no-ranker", "ranker-does-not-know-the-user"],
)
def test_without_a_ranking_results_keep_title_order_and_are_not_ranked(user_id, ranker):
    results = search_titles(INDEX, "matrix", 10, user_id=user_id, ranker=ranker)
    assert [movie.item_id for movie in results.movies] == ["1", "2", "7"]
    assert not results.ranked and results.ranked_by is None


def test_a_failing_ranker_costs_only_the_ranking():
    results = search_titles(INDEX, "matrix", 10, user_id="42", ranker=FixedRanker(fail=True))
    assert [movie.item_id for movie in results.movies] == ["1", "2", "7"]
    assert not results.ranked
    assert "throttling" in results.notice


# --- GetPersonalizedRanking ------------------------------------------------------------------


@pytest.fixture
def runtime():
    with stubbed("personalize-runtime") as client_and_stubber:
        yield client_and_stubber


def test_personalized_ranking_sends_the_candidates_and_keeps_unknown_items_last(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_personalized_ranking",
        {"personalizedRanking": [{"itemId": "7", "score": 0.6}, {"itemId": "1", "score": 0.3}],
         "recommendationId": "RID-1"},
        {"campaignArn": RANKING, "userId": "42", "inputList": ["1", "2", "7"]},
    )
    ranking = PersonalizeRanker(client, RANKING).rank("42", ["1", "2", "7"])
    assert ranking == ["7", "1", "2"]  # "2" was not in the answer: it goes to the end


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [("ResourceNotFoundException", 404, "has no resource"),
     ("ThrottlingException", 400, "throttling"),
     ("InvalidInputException", 400, "rejected the request")],
)
def test_personalized_ranking_failures_become_unavailable(runtime, code, status, reason):
    client, stubber = runtime
    stubber.add_client_error("get_personalized_ranking", code, "nope", http_status_code=status,
                             expected_params={"campaignArn": RANKING, "userId": "42",
                                              "inputList": ANY})
    with pytest.raises(RecommenderUnavailable, match=reason):
        PersonalizeRanker(client, RANKING).rank("42", ["1", "2"])


def test_a_ranking_answer_without_a_list_is_unavailable(runtime):
    client, stubber = runtime
    stubber.add_response("get_personalized_ranking", {"recommendationId": "RID-1"})
    with pytest.raises(RecommenderUnavailable, match="not a list"):
        PersonalizeRanker(client, RANKING).rank("42", ["1"])


def test_no_candidates_make_no_call(runtime):
    client, _stubber = runtime
    assert PersonalizeRanker(client, RANKING).rank("42", []) == []
