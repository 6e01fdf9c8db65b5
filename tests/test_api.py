"""The JSON API: same validation and backends as the pages, errors as JSON."""

from __future__ import annotations

import json
import time

import pytest
from aws_support import CAMPAIGN, stubbed

from personalize import PersonalizeRecommender


def test_recommendations_as_json(client):
    response = client.get("/api/recommendations?user_id=3&n=3")
    assert response.status_code == 200
    body = response.get_json()
    assert body["user_id"] == "3" and body["cold_start"] is False and body["known_user"] is True
    assert body["backend"].startswith("Embedded recommender")
    first = body["items"][0]
    assert first["item_id"] == "h4" and first["title"] == "Psycho" and first["year"] == 1960
    assert first["genres"] == ["Horror"] and isinstance(first["score"], float)
    assert len(body["items"]) == 3


def test_recommendations_for_an_unknown_user_are_flagged_cold_start(client):
    body = client.get("/api/recommendations?user_id=ghost").get_json()
    assert body["cold_start"] is True and body["known_user"] is False
    assert body["items"][0]["reason"] is None


def test_recommendations_filtered_by_genre(client):
    body = client.get("/api/recommendations?user_id=3&n=4&genre=Comedy").get_json()
    assert len(body["items"]) == 4
    assert all(item["genres"] == ["Comedy"] for item in body["items"])


def test_cold_start_recommendations_keep_to_the_genre(client):
    body = client.get("/api/recommendations?user_id=ghost&n=3&genre=Horror").get_json()
    assert body["cold_start"] is True and body["genre"] == "Horror"
    assert len(body["items"]) == 3
    assert all(item["genres"] == ["Horror"] for item in body["items"])


def test_similar_items(client):
    body = client.get("/api/similar?item_id=c1&n=3").get_json()
    assert body["item_id"] == "c1" and len(body["items"]) == 3
    assert all(item["item_id"].startswith("c") for item in body["items"])


def test_a_rating_is_stored_and_changes_the_next_answer(client):
    response = client.post("/api/ratings", json={"user_id": "3", "item_id": "h4", "rating": 5})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["user_id"], body["item_id"], body["rating"]) == ("3", "h4", 5.0)
    assert body["sent_to_personalize"] is None  # no event tracker on the embedded backend
    items = client.get("/api/recommendations?user_id=3&n=10").get_json()["items"]
    assert "h4" not in [item["item_id"] for item in items]


def test_a_user_who_rated_only_here_is_known_and_personalized_from_the_first_rating(client):
    # The API has no onboarding: the pages' "rate 3 popular movies first" is theirs alone.
    before = int(time.time())
    rated = client.post("/api/ratings", json={"user_id": "newcomer", "item_id": "c1", "rating": 5})
    assert before <= rated.get_json()["timestamp"] <= time.time()
    body = client.get("/api/recommendations?user_id=newcomer&n=3").get_json()
    assert body["known_user"] is True and body["cold_start"] is False


def test_a_genre_the_backend_cannot_filter_by_is_refused_naming_the_setting(make_app):
    with stubbed("personalize-runtime") as (runtime, _stubber):  # no call may reach AWS
        backend = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN)
        web = make_app(recommender=backend).test_client()
        response = web.get("/api/recommendations?user_id=3&genre=Horror")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid input",
        "detail": "Filtering by genre needs PERSONALIZE_GENRE_FILTER_ARN.",
    }


def test_numeric_ids_are_accepted_as_text(client):
    response = client.post("/api/ratings", json={"user_id": 3, "item_id": "h4", "rating": "4.5"})
    assert response.status_code == 201
    assert response.get_json()["user_id"] == "3"


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/recommendations", 400, "Enter a user ID"),
        ("/api/recommendations?user_id=1&n=0", 400, "from 1 to 100"),
        ("/api/recommendations?user_id=1&n=x", 400, "whole number"),
        ("/api/recommendations?user_id=a%0Ab", 400, "control characters"),
        ("/api/recommendations?user_id=1&genre=Polka", 400, "no genre"),
        ("/api/similar?item_id=nope", 404, "No movie with ID 'nope'"),
        ("/api/similar", 400, "movie ID"),
        ("/api/nothing-here", 404, ""),
    ],
)
def test_get_errors_are_json_with_the_right_status(client, path, status, detail):
    response = client.get(path)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error", "detail"} and detail in body["detail"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_id": "3", "item_id": "h4", "rating": 6}, 400),
        ({"user_id": "3", "item_id": "h4", "rating": True}, 400),
        ({"user_id": "3", "item_id": "h4"}, 400),
        ({"user_id": "", "item_id": "h4", "rating": 3}, 400),
        ({"user_id": ["3"], "item_id": "h4", "rating": 3}, 400),
        ({"user_id": "3", "item_id": "zzz", "rating": 3}, 404),
        ([1, 2, 3], 400),
    ],
)
def test_bad_ratings_are_json_errors(client, body, status):
    response = client.post("/api/ratings", json=body)
    assert response.status_code == status
    assert set(response.get_json()) == {"error", "detail"}


@pytest.mark.parametrize("field", ["user_id", "item_id", "session_id"])
@pytest.mark.parametrize("value", [["3"], {"id": "3"}, 4.5, True])
def test_an_id_that_is_neither_text_nor_a_whole_number_is_refused_by_name(client, field, value):
    body = {"user_id": "3", "item_id": "h4", "rating": 4, field: value}
    response = client.post("/api/ratings", json=body)
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid input", "detail": "user_id, item_id and session_id must be strings."
    }
    assert stored_ratings(client) == 0


def test_ratings_must_be_sent_as_json(client):
    response = client.post("/api/ratings", data={"user_id": "3", "item_id": "h4", "rating": "4"})
    assert response.status_code == 415
    assert client.get("/api/ratings").status_code == 405


def test_malformed_json_is_a_400(client):
    response = client.post(
        "/api/ratings", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid input"


def post_json(client, text: str):
    return client.post("/api/ratings", data=text, headers={"Content-Type": "application/json"})


def stored_ratings(client) -> int:
    return len(client.application.extensions["movies"].store)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1000 + "]" * 1000,
        "[" * 100_000 + "]" * 100_000,
        '{"user_id": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
    ],
)
def test_json_nested_too_deeply_is_a_400_not_a_crash(client, text):
    response = post_json(client, text)
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid input", "detail": "The JSON body is nested too deeply."
    }
    assert stored_ratings(client) == 0


@pytest.mark.parametrize("field", ["user_id", "item_id", "session_id"])
def test_a_lone_surrogate_in_an_id_is_a_400_naming_the_problem(client, field):
    body = {"user_id": "3", "item_id": "h4", "rating": 4, field: "a\ud800"}
    text = json.dumps(body)  # ASCII-only JSON: the surrogate travels as the escape \ud800
    response = post_json(client, text)
    assert response.status_code == 400
    assert "lone surrogate" in response.get_json()["detail"]
    assert stored_ratings(client) == 0


@pytest.mark.parametrize("rating", ["1" + "0" * 400, "1e400", "-1e400", "NaN", "Infinity"])
def test_ratings_too_big_for_a_float_are_a_400(client, rating):
    response = post_json(client, f'{{"user_id": "3", "item_id": "h4", "rating": {rating}}}')
    assert response.status_code == 400
    assert "stars" in response.get_json()["detail"]
    assert stored_ratings(client) == 0


def test_a_personalize_failure_is_a_json_503(make_app):
    with stubbed("personalize-runtime") as (runtime, stubber):
        stubber.add_client_error("get_recommendations", "ResourceNotFoundException", "", 404)
        recommender = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN)
        app = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}, recommender=recommender)
        response = app.test_client().get("/api/recommendations?user_id=1")
    assert response.status_code == 503
    body = response.get_json()
    assert "has no resource" in body["error"] and "ACTIVE" in body["detail"]
