"""The exact shape of the JSON answers, and where "more like this" comes from.

A client reads these fields by name, so each one is pinned: a renamed key or an error without
its name is a broken client, even when the status code is right.
"""

from __future__ import annotations

from aws_support import CAMPAIGN, stubbed

from personalize import PersonalizeRecommender

SIMS = "arn:aws:personalize:us-east-1:123456789012:campaign/movies-sims"
ITEM_FIELDS = {"item_id", "title", "year", "genres", "imdb_id", "score", "reason", "because"}


def test_each_recommended_item_has_exactly_the_documented_fields(client):
    items = client.get("/api/recommendations?user_id=3&n=2").get_json()["items"]
    assert items and all(set(item) == ITEM_FIELDS for item in items)
    assert all(item["imdb_id"] is None for item in items)  # the small items file has none
    assert all(item["because"] in {"h1", "h2", "h3", "h5", "h6"} for item in items)


def test_a_path_the_api_does_not_have_is_named_in_the_error(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "not found"
    assert body["detail"].startswith("The requested URL was not found")


def test_a_wrong_method_is_a_json_405(client):
    response = client.delete("/api/ratings")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method not allowed"


def test_personalizes_reason_is_passed_on_and_popular_is_not_a_reason(make_app):
    with stubbed("personalize-runtime") as (runtime, stubber):
        answer = {"itemList": [{"itemId": "h4", "reason": ["Exploration"]}, {"itemId": "c2"}]}
        stubber.add_response("get_recommendations", answer, None)
        app = make_app(recommender=PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN))
        items = app.test_client().get("/api/recommendations?user_id=3&n=2").get_json()["items"]
    assert [item["reason"] for item in items] == ["Exploration", None]
    cold = make_app().test_client().get("/api/recommendations?user_id=ghost&n=1").get_json()
    assert cold["items"][0]["reason"] is None  # the embedded popular list says "popular"


def test_more_like_this_comes_from_the_sims_campaign_when_there_is_one(make_app):
    with stubbed("personalize-runtime") as (runtime, stubber):
        stubber.add_response(
            "get_recommendations",
            {"itemList": [{"itemId": "c2"}]},
            {"campaignArn": SIMS, "itemId": "h1", "numResults": 1},
        )
        backend = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN, sims_campaign_arn=SIMS)
        body = make_app(recommender=backend).test_client().get("/api/similar?item_id=h1&n=1")
    assert body.get_json()["backend"] == "Amazon Personalize · SIMS campaign"
    assert [item["item_id"] for item in body.get_json()["items"]] == ["c2"]


def test_without_a_sims_campaign_more_like_this_falls_back_to_the_embedded_one(make_app):
    with stubbed("personalize-runtime") as (runtime, _stubber):  # no call may reach AWS
        backend = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN)
        body = make_app(recommender=backend).test_client().get("/api/similar?item_id=h1&n=3")
    similar = body.get_json()
    assert similar["backend"] != "Amazon Personalize · SIMS campaign"
    assert [item["item_id"][0] for item in similar["items"]] == ["h", "h", "h"]
    assert "h1" not in [item["item_id"] for item in similar["items"]]
