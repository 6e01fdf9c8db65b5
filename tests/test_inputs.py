"""The input rules the pages and the API share, called directly (inputs.py).

The routes pass them strings; these are the other values a caller may hand over (a number from
a JSON body, a boolean) and the messages a person gets back.
"""

from __future__ import annotations

import pytest

from inputs import (
    MAX_ID_LENGTH,
    MAX_QUERY_LENGTH,
    InvalidInput,
    parse_choice,
    parse_count,
    parse_genre,
    parse_item_id,
    parse_query,
    parse_rating,
    parse_session_id,
    parse_user_id,
)


def test_a_count_may_be_a_whole_number_as_well_as_text():
    assert parse_count(7, 10) == 7
    assert parse_count(1, 10) == 1 and parse_count("100", 10) == 100
    assert parse_count(" 7 ", 10) == 7
    assert parse_count(None, 10) == parse_count("  ", 10) == 10


@pytest.mark.parametrize("raw", [True, 2.0, 2.5, [3], "2.5", "many"])
def test_a_count_that_is_not_a_whole_number_is_refused(raw):
    with pytest.raises(InvalidInput, match="^The number of movies must be a whole number from 1 "):
        parse_count(raw, 10)


@pytest.mark.parametrize("raw", [0, 101, "-1"])
def test_a_count_outside_1_to_100_is_refused_naming_it(raw):
    with pytest.raises(InvalidInput, match=f"from 1 to 100; got {int(raw)}"):
        parse_count(raw, 10)


def test_ids_are_trimmed_and_their_messages_name_the_kind_of_id():
    assert parse_user_id(" 42 ") == "42"
    assert parse_item_id("Heat (1995)") == "Heat (1995)"
    with pytest.raises(InvalidInput, match="^A movie ID has at most"):
        parse_item_id("x" * (MAX_ID_LENGTH + 1))
    with pytest.raises(InvalidInput, match="^A user ID cannot contain control characters"):
        parse_user_id("a\tb")
    with pytest.raises(InvalidInput, match="^Give a movie ID"):
        parse_item_id(" ")
    with pytest.raises(InvalidInput, match=r"^Enter a user ID, for example 1\.$"):
        parse_user_id(None)


def test_a_blank_session_id_means_the_default_and_any_other_follows_the_id_rules():
    assert parse_session_id(None, "api-1") == parse_session_id("  ", "api-1") == "api-1"
    assert parse_session_id(" s-1 ", "api-1") == "s-1"
    with pytest.raises(InvalidInput, match="^A session ID must be Unicode text"):
        parse_session_id("\ud800", "api-1")


@pytest.mark.parametrize(("raw", "stars"), [("4.5", 4.5), (" 1 ", 1.0), (5, 5.0), (3.5, 3.5)])
def test_ratings_are_whole_or_half_stars_from_1_to_5(raw, stars):
    assert parse_rating(raw) == stars


@pytest.mark.parametrize("raw", [0.5, 5.5, 4.25, "4.2", True, None, "", "nan", 10**400])
def test_other_ratings_are_refused(raw):
    with pytest.raises(InvalidInput, match="^A rating is"):
        parse_rating(raw)


def test_a_genre_is_one_of_the_catalogues_or_none():
    assert parse_genre(" Drama ", ["Comedy", "Drama"]) == "Drama"
    assert parse_genre("  ", ["Drama"]) is None
    with pytest.raises(InvalidInput, match="no genre called 'Horror'"):
        parse_genre("Horror", ["Drama"])


def test_an_unknown_genre_is_quoted_in_the_message_cut_at_40_characters():
    with pytest.raises(InvalidInput, match=r"no genre called '(x{40})' in the catalogue"):
        parse_genre("x" * 50, ["Drama"])


def test_a_search_is_trimmed_text_of_at_most_200_characters_and_blank_means_none():
    assert MAX_QUERY_LENGTH == 200
    assert parse_query("  alien ") == "alien"
    assert parse_query(None) is None and parse_query("   ") is None
    assert parse_query("x" * MAX_QUERY_LENGTH) == "x" * MAX_QUERY_LENGTH
    with pytest.raises(InvalidInput) as caught:
        parse_query("x" * (MAX_QUERY_LENGTH + 1))
    assert str(caught.value) == "A search has at most 200 characters."


@pytest.mark.parametrize("query", ["al\x00ien", "al\ud800ien"])
def test_a_search_with_control_characters_or_lone_surrogates_is_refused(query):
    with pytest.raises(InvalidInput) as caught:
        parse_query(query)
    assert str(caught.value) == "A search is plain text, without control characters."


def test_a_choice_is_one_of_those_offered_and_the_message_lists_them():
    choices = ("score", "title")
    assert parse_choice(" title ", choices, "order", "score") == "title"
    assert parse_choice("", choices, "order", "score") == "score"
    with pytest.raises(InvalidInput) as caught:
        parse_choice("year", choices, "order", "score")
    assert str(caught.value) == "The order must be one of score, title."
