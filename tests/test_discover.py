"""The home of shelves, search ranked for you and compare, through the app on the small data
(tests/conftest.py: users 0-19 watch horror, 20-39 comedy), with Personalize's shelves and
ranking against botocore's Stubber."""

from __future__ import annotations

import re

import pytest
from aws_support import CAMPAIGN, REGION, stubbed
from botocore.stub import ANY

import config
from dataset import Catalog, Interaction, Movie
from metrics_cache import save_evaluation, save_personalize_metrics
from personalize import PersonalizeRecommender
from recommender.interface import Recommendation, RecommenderUnavailable
from shelves import BECAUSE, GENRE, POPULAR, TOP_PICKS, TRENDING, Source, home

ACCOUNT = "123456789012"
TRENDING_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:recommender/vod-trending"
POPULAR_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:campaign/movies-popular"
RANKING_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:campaign/movies-ranking"
HORROR_FAN, COMEDY_FAN = "3", "25"


def shelf_titles(html: str) -> list[str]:
    return re.findall(r'<h2 id="shelf-[^"]+">([^<]+)</h2>', html)


def item_list(*ids: str) -> dict:
    return {"itemList": [{"itemId": item, "score": 0.5} for item in ids],
            "recommendationId": "RID-1"}


# --- shelves ---------------------------------------------------------------------------------


def test_a_users_home_has_the_shelves_in_order_each_naming_its_source(client):
    html = client.get(f"/home?user_id={HORROR_FAN}").get_data(as_text=True)

    assert shelf_titles(html) == ["Top picks for you", "Because you watched Scream",
                                  "Trending now", "Popular in Horror", "Most popular"]
    assert "Embedded recommender · item-to-item" in html
    assert "Embedded recommender · trending-now" in html
    assert "Embedded recommender · popularity-count" in html
    assert "is not set" not in html  # on the embedded default nothing stands in for anything


def test_because_you_watched_names_the_latest_liked_movie_and_leaves_out_rated_ones(client):
    shelves = client.get(f"/api/home?user_id={HORROR_FAN}").get_json()["shelves"]
    because = next(shelf for shelf in shelves if shelf["name"] == BECAUSE)

    assert because["item_id"] == "h6"  # Scream: user 3's newest rating, 5 stars
    rated = {"h1", "h2", "h3", "h5", "h6"}
    assert because["items"] and not rated & {item["item_id"] for item in because["items"]}


def test_an_unknown_or_anonymous_visitor_gets_trending_then_most_popular(client):
    for path in ("/home?user_id=nobody", "/home", "/home?user_id="):
        response = client.get(path)
        assert response.status_code == 200
        assert shelf_titles(response.get_data(as_text=True)) == ["Trending now", "Most popular"]
    shelves = client.get("/api/home").get_json()["shelves"]
    assert [shelf["served_by"] for shelf in shelves] == [
        "Embedded recommender · trending-now", "Embedded recommender · popularity-count"]


def test_see_more_shows_one_shelf_at_length(client):
    html = client.get(f"/shelf?name=popular-in-genre&user_id={COMEDY_FAN}").get_data(as_text=True)
    assert "Popular in Comedy" in html
    assert client.get("/shelf?name=no-such-shelf").status_code == 400


class Sources:
    """Shelf sources for the use case alone: every shelf has one, trending included."""

    def __init__(self, trending: Source | None) -> None:
        self.trending_source = trending
        popular = [Recommendation("c2"), Recommendation("h4")]
        self.popular_source = Source("popular", lambda *args: popular)
        self.genre_source = Source("genre", lambda user, n, rated, genre: popular)
        self.related_source = Source("related", related=lambda user, item, n: popular)


class FakeServices:
    catalog = Catalog([Movie("h1", "Alien", genres=("Horror",)), Movie("c2", "Groundhog Day"),
                       Movie("h4", "Psycho", genres=("Horror",))])
    interactions = None

    def __init__(self, history: list[Interaction]) -> None:
        self._history = history

    def history(self, user_id: str) -> list[Interaction]:
        return self._history

    def recommend(self, user_id: str, n: int):
        raise RecommenderUnavailable("down")


def test_a_visitor_without_ratings_gets_trending_then_most_popular():
    trending = Source("trending", lambda *args: [Recommendation("h4")])
    page = home(FakeServices([]), Sources(trending), "nobody")
    assert [shelf.name for shelf in page.shelves] == [TRENDING, POPULAR]


def test_a_user_who_liked_something_gets_every_shelf_and_one_failing_costs_only_itself():
    trending = Source("trending", lambda *args: [Recommendation("c2")])
    page = home(FakeServices([Interaction("h1", 5.0, 1)]), Sources(trending), "7")
    assert [shelf.name for shelf in page.shelves] == [TOP_PICKS, BECAUSE, TRENDING, GENRE, POPULAR]
    top = page.shelves[0]
    assert top.problem == "down" and top.items == []
    assert [item.item_id for item in page.shelves[2].items] == ["c2"]


@pytest.fixture
def runtime():
    with stubbed("personalize-runtime") as client_and_stubber:
        yield client_and_stubber


def test_on_personalize_each_shelf_uses_its_own_arn_or_says_who_stands_in(make_app, runtime):
    client, stubber = runtime
    stubber.add_response("get_recommendations", item_list("c2", "h4"),
                         {"recommenderArn": TRENDING_ARN, "userId": HORROR_FAN, "numResults": ANY})
    stubber.add_response("get_recommendations", item_list("c3", "h4"),
                         {"campaignArn": POPULAR_ARN, "userId": HORROR_FAN, "numResults": ANY})
    with stubbed("personalize-runtime") as (main_client, main_stubber):
        main_stubber.add_response("get_recommendations", item_list("h4"),
                                  {"campaignArn": CAMPAIGN, "userId": HORROR_FAN,
                                   "numResults": ANY})
        app = make_app(
            {"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN, "PERSONALIZE_TRENDING_ARN": TRENDING_ARN,
             "PERSONALIZE_POPULAR_ARN": POPULAR_ARN},
            recommender=PersonalizeRecommender(main_client, campaign_arn=CAMPAIGN),
            runtime_client=client,
        )
        body = app.test_client().get(f"/api/home?user_id={HORROR_FAN}").get_json()

    shelves = {shelf["name"]: shelf for shelf in body["shelves"]}
    assert list(shelves) == [TOP_PICKS, BECAUSE, TRENDING, GENRE, POPULAR]
    assert shelves[TOP_PICKS]["served_by"] == "Amazon Personalize · campaign movies"
    assert shelves[TRENDING]["served_by"] == "Amazon Personalize · recommender vod-trending"
    assert [item["item_id"] for item in shelves[TRENDING]["items"]] == ["c2", "h4"]
    assert [item["item_id"] for item in shelves[POPULAR]["items"]] == ["c3", "h4"]
    assert shelves[POPULAR]["note"] is None
    assert shelves[BECAUSE]["served_by"] == "Embedded recommender · item-to-item"
    assert "PERSONALIZE_BECAUSE_YOU_WATCHED_ARN is not set" in shelves[BECAUSE]["note"]
    assert shelves[GENRE]["note"] == (
        "PERSONALIZE_POPULAR_ARN and PERSONALIZE_GENRE_FILTER_ARN are not set, so the embedded "
        "recommender serves this shelf.")


def test_a_failing_shelf_arn_costs_only_that_shelf(make_app, runtime):
    client, stubber = runtime
    stubber.add_client_error("get_recommendations", "ThrottlingException", "slow down")
    app = make_app({"PERSONALIZE_TRENDING_ARN": TRENDING_ARN}, runtime_client=client)

    response = app.test_client().get(f"/home?user_id={HORROR_FAN}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This shelf is unavailable: Amazon Personalize is throttling requests." in html
    assert shelf_titles(html)[:3] == ["Top picks for you", "Because you watched Scream",
                                      "Trending now"]
    assert ACCOUNT not in html


# --- search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_id", "first"),
    [("2", "The Shining"), ("20", "The Big Lebowski")],
    ids=["horror-fan", "comedy-fan"],
)
def test_search_results_follow_the_users_taste_and_say_ranked_for_you(client, user_id, first):
    # "the" finds The Shining, The Thing and The Big Lebowski; neither user rated their
    # genre's film here (user 2 rated The Thing, so it goes last: rated films are not ranked).
    html = client.get(f"/search?q=the&user_id={user_id}").get_data(as_text=True)
    titles = re.findall(r'class="card-title"><a [^>]*>([^<]+)</a>', html)
    assert titles[0] == first
    assert sorted(titles) == ["The Big Lebowski", "The Shining", "The Thing"]
    assert "Ranked for you" in html


@pytest.mark.parametrize("path", ["/search?q=alien", "/search?q=alien&user_id=nobody"])
def test_search_without_a_ranking_does_not_claim_one(client, path):
    html = client.get(path).get_data(as_text=True)
    assert "Alien" in html and "Ranked for you" not in html


def test_search_finds_despite_case_articles_and_typos(client):
    for query in ("SHINING", "Shining, The", "the shinning", "groundhog"):
        items = client.get("/api/search", query_string={"q": query}).get_json()["items"]
        assert items, query
        assert items[0]["title"] in ("The Shining", "Groundhog Day"), query


def test_a_search_fault_degrades_to_unranked_results(make_app, runtime):
    client, stubber = runtime
    stubber.add_client_error("get_personalized_ranking", "ThrottlingException", "slow down",
                             expected_params={"campaignArn": RANKING_ARN, "userId": HORROR_FAN,
                                              "inputList": ["h1"]})
    app = make_app({"PERSONALIZE_RANKING_CAMPAIGN_ARN": RANKING_ARN}, runtime_client=client)

    response = app.test_client().get(f"/search?q=alien&user_id={HORROR_FAN}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Alien" in html
    assert "Ranked for you" not in html
    assert "Not ranked for you" in html


def test_search_is_ranked_by_the_ranking_campaign_when_configured(make_app, runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_personalized_ranking",
        {"personalizedRanking": [{"itemId": "c3"}, {"itemId": "h3"}, {"itemId": "h5"}]},
        {"campaignArn": RANKING_ARN, "userId": COMEDY_FAN, "inputList": ["h5", "h3", "c3"]},
    )
    app = make_app({"PERSONALIZE_RANKING_CAMPAIGN_ARN": RANKING_ARN}, runtime_client=client)

    body = app.test_client().get(f"/api/search?q=the&user_id={COMEDY_FAN}").get_json()

    assert [item["item_id"] for item in body["items"]] == ["c3", "h3", "h5"]
    assert body["ranked"] is True
    assert body["ranked_by"] == "Amazon Personalize · campaign movies-ranking"


@pytest.mark.parametrize(("query", "status"), [("x" * 201, 400), ("a\tb", 400), ("", 200)])
def test_search_input_rules(client, query, status):
    assert client.get("/search", query_string={"q": query}).status_code == status
    assert client.get("/api/search", query_string={"q": query}).status_code == status


def test_the_search_box_is_on_every_page_and_keeps_the_user(client):
    for path in ("/", f"/recommendations?user_id={HORROR_FAN}", "/movies?item_id=h1"):
        html = client.get(path).get_data(as_text=True)
        assert 'action="/search"' in html, path
    html = client.get(f"/recommendations?user_id={HORROR_FAN}").get_data(as_text=True)
    assert f'<input type="hidden" name="user_id" value="{HORROR_FAN}">' in html


# --- compare ---------------------------------------------------------------------------------


def test_compare_marks_shared_items_with_their_rank_in_the_other_list(client):
    body = client.get(f"/api/compare?user_id={HORROR_FAN}&left=user-personalization"
                      "&right=popularity-count&n=5").get_json()

    left, right = body["left"], body["right"]
    assert left["recipe"] == "user-personalization" and right["recipe"] == "popularity-count"
    right_ranks = {item["item_id"]: rank for rank, item in enumerate(right["items"], start=1)}
    for item in left["items"]:
        assert item["rank_in_other"] == right_ranks.get(item["item_id"])
    assert body["overlap"] == len(body["shared"]) == len(
        {item["item_id"] for item in left["items"]} & set(right_ranks))
    assert body["overlap"] > 0


def test_compare_shows_cached_evaluate_figures_or_says_how_to_get_them(make_app, tmp_path):
    app = make_app()
    html = app.test_client().get(f"/compare?user_id={HORROR_FAN}").get_data(as_text=True)
    assert "Run `flask --app app evaluate`" in html

    fingerprint = app.extensions["movies"].interactions.fingerprint
    save_evaluation(app.instance_path, "data/ratings.csv", fingerprint, 3,
                    {"user-personalization": {"coverage": {"mean": 0.4321, "std": 0.01}}})
    html = app.test_client().get(f"/compare?user_id={HORROR_FAN}").get_data(as_text=True)
    assert "0.4321" in html and "`flask evaluate` on data/ratings.csv, 3 seeds" in html

    save_evaluation(app.instance_path, "data/ratings.csv", "another-file", 3,
                    {"user-personalization": {"coverage": {"mean": 0.4321, "std": 0.01}}})
    html = app.test_client().get(f"/compare?user_id={HORROR_FAN}").get_data(as_text=True)
    assert "0.4321" not in html  # figures for other ratings are not shown as these


def test_compare_on_personalize_puts_the_campaign_beside_the_embedded_engine(make_app):
    with stubbed("personalize-runtime") as (main_client, main_stubber):
        main_stubber.add_response("get_recommendations", item_list("h4", "c2"),
                                  {"campaignArn": CAMPAIGN, "userId": HORROR_FAN,
                                   "numResults": ANY})
        app = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN},
                       recommender=PersonalizeRecommender(main_client, campaign_arn=CAMPAIGN))
        save_personalize_metrics(app.instance_path, CAMPAIGN.replace("campaign", "solution"),
                                 {"coverage": 0.2512})
        response = app.test_client().get(f"/compare?user_id={HORROR_FAN}&right=sims")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Amazon Personalize · campaign movies" in html
    assert '<select id="right"' not in html  # the right column is the campaign, not a choice
    assert "0.2512" in html and ACCOUNT not in html


def test_compare_input_rules(client):
    assert client.get("/compare").status_code == 400
    assert client.get("/compare?user_id=3&left=nope").status_code == 400
    assert client.get("/api/compare?user_id=3&right=nope").status_code == 400


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("PERSONALIZE_RANKING_CAMPAIGN_ARN", TRENDING_ARN),
     ("PERSONALIZE_TRENDING_ARN", f"arn:aws:personalize:{REGION}:{ACCOUNT}:filter/x")],
)
def test_shelf_and_ranking_arns_must_be_the_right_kind(name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.from_environment({name: value})
