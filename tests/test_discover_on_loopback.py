"""Search ranking and a Personalize shelf through the app's own boto3 clients, against a fake
Personalize endpoint on loopback (tests/aws_support.py): real botocore parsing, retries and
timeouts, for a good answer and for a broken one."""

from __future__ import annotations

import json
import re

import pytest
from aws_support import CAMPAIGN, Answer, fake_endpoint, use_fake_aws

RANKING = CAMPAIGN.replace("campaign/movies", "campaign/movies-ranking")
TRENDING = CAMPAIGN.replace("campaign/movies", "campaign/movies-trending")


@pytest.fixture
def endpoint(monkeypatch):
    with fake_endpoint() as server:
        use_fake_aws(monkeypatch, runtime_url=server.url)
        yield server


def result_titles(html: str) -> list[str]:
    return re.findall(r'<h3 class="card-title">\s*<a [^>]*>([^<]+)</a>', html)


def test_search_results_come_in_getpersonalizedrankings_order(make_app, endpoint):
    web = make_app({"PERSONALIZE_RANKING_CAMPAIGN_ARN": RANKING}).test_client()
    ranked = [{"itemId": "h5"}, {"itemId": "c3"}, {"itemId": "h3"}]
    endpoint.answer = Answer(body=json.dumps({"personalizedRanking": ranked}).encode())

    page = web.get("/search?q=the&user_id=3")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    path, request = endpoint.requests[0]
    assert path == "/personalize-ranking"
    assert request["campaignArn"] == RANKING and request["userId"] == "3"
    assert sorted(request["inputList"]) == ["c3", "h3", "h5"]
    assert "Ranked for you" in html
    assert html.index("The Thing") < html.index("The Big Lebowski") < html.index("The Shining")


def test_a_broken_ranking_answer_leaves_search_unranked_not_broken(make_app, endpoint):
    web = make_app({"PERSONALIZE_RANKING_CAMPAIGN_ARN": RANKING}).test_client()
    endpoint.answer = Answer(body=b"<html>proxy error</html>")

    page = web.get("/search?q=the&user_id=3")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert endpoint.requests  # the ranking was asked for
    assert "Ranked for you" not in html
    assert "proxy error" not in html
    for title in ("The Big Lebowski", "The Shining", "The Thing"):
        assert title in html


def test_the_trending_shelf_comes_from_its_own_campaign(make_app, endpoint):
    web = make_app({"PERSONALIZE_TRENDING_ARN": TRENDING}).test_client()
    items = [{"itemId": "c6"}, {"itemId": "c5"}]
    endpoint.answer = Answer(body=json.dumps({"itemList": items}).encode())

    shelves = web.get("/api/home?user_id=3").get_json()["shelves"]

    trending = next(shelf for shelf in shelves if shelf["name"] == "trending")
    assert [item["item_id"] for item in trending["items"]] == ["c6", "c5"]
    assert "Amazon Personalize" in trending["served_by"]
    assert [request["campaignArn"] for _path, request in endpoint.requests] == [TRENDING]


def test_a_broken_trending_answer_costs_only_that_shelf(make_app, endpoint):
    web = make_app({"PERSONALIZE_TRENDING_ARN": TRENDING}).test_client()
    endpoint.answer = Answer(status=200, body=b'{"itemList": null}')

    page = web.get("/home?user_id=3")
    shelves = web.get("/api/home?user_id=3").get_json()["shelves"]

    assert page.status_code == 200
    trending = next(shelf for shelf in shelves if shelf["name"] == "trending")
    assert trending["items"] == [] and trending["problem"]
    assert any(shelf["items"] for shelf in shelves if shelf["name"] != "trending")
