"""Movie pages, rating to personalize, new users, finding users and the genre filter."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from aws_support import CAMPAIGN, fake_client, stubbed
from botocore.stub import ANY, Stubber

from personalize import EventSender, PersonalizeRecommender
from tests.test_app import card_titles

GENRE_FILTER = "arn:aws:personalize:us-east-1:123456789012:filter/by-genre"


REASONS = re.compile(r'<p class="reason">([^<]*)</p>')


def csrf_of(client, path: str = "/recommendations?user_id=3") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def rate(client, user_id: str, item_id: str, stars: int, **extra):
    form = {"csrf_token": csrf_of(client), "user_id": user_id, "item_id": item_id}
    return client.post("/ratings", data={**form, "rating": str(stars), **extra})


# --- A movie's page -----------------------------------------------------------------------------


def test_a_movie_page_shows_the_movie_and_more_like_it(client):
    page = client.get("/movies?item_id=h1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<title>Alien" in html
    similar = html.split("More like this")[1]
    titles = re.findall(r'<h3 class="card-title"><a href="[^"]*">([^<]+)</a>', similar)
    assert titles and "Alien" not in titles
    assert set(titles[:4]) <= {"Halloween", "The Shining", "Psycho", "The Thing", "Scream"}


def test_each_recommendation_names_the_rated_movie_behind_it(client):
    html = client.get("/recommendations?user_id=3&n=2").get_data(as_text=True)
    reasons = re.findall(r'<p class="reason">Because you rated ([^<]+)</p>', html)
    assert len(reasons) == 2
    horror = ("Alien", "Halloween", "The Shining", "The Thing", "Scream")  # what user 3 rated
    assert all(reason.rsplit(" ★", 1)[0] in horror for reason in reasons)
    assert all(reason.rsplit(" ★", 1)[1] in ("4", "5") for reason in reasons)


def test_every_card_links_to_its_movie_page(client):
    html = client.get("/recommendations?user_id=3").get_data(as_text=True)
    links = re.findall(r'<h3 class="card-title"><a href="([^"]+)"', html)
    assert links and all(link.startswith("/movies?item_id=") for link in links)


def test_item_ids_with_slashes_reach_their_movie_page(tmp_path):
    from app import create_app

    ratings = tmp_path / "ratings.csv"
    rows = ["USER_ID,ITEM_ID,RATING,TIMESTAMP"]
    films = ["AC/DC: Let There Be Rock (1980)", "Heat (1995)", "Alien (1979)"]
    rows += [f"{u},{film},4,{1_600_000_000 + i}" for u in range(6) for i, film in enumerate(films)]
    ratings.write_text("\n".join(rows) + "\n")
    app = create_app({"RATINGS_PATH": str(ratings)}, instance_path=str(tmp_path / "i"))
    page = app.test_client().get("/movies", query_string={"item_id": films[0]})
    assert page.status_code == 200
    assert "AC/DC: Let There Be Rock" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "status"),
    [("item_id=nope", 404), ("item_id=", 400), ("", 400), ("item_id=h1&user_id=%09", 400)],
)
def test_bad_movie_requests_get_their_status(client, query, status):
    assert client.get(f"/movies?{query}").status_code == status


# --- Rating -----------------------------------------------------------------------------------


def test_rating_updates_the_list_at_once_and_removes_the_movie(client):
    before = card_titles(client.get("/recommendations?user_id=3&n=5").get_data(as_text=True))
    assert before[0] == "Psycho"
    response = rate(client, "3", "h4", 5, next="/recommendations?user_id=3&n=5")
    assert response.status_code == 303
    assert response.headers["Location"] == "/recommendations?user_id=3&n=5"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You rated Psycho ★5." in page
    after = card_titles(page)
    assert "Psycho" not in after and after != before


def test_a_rating_survives_a_restart_and_is_used_in_retraining(make_app):
    first = make_app().test_client()
    assert rate(first, "3", "h4", 5).status_code == 303
    restarted = make_app().test_client()  # same instance folder, new app and services
    page = restarted.get("/recommendations?user_id=3&n=10").get_data(as_text=True)
    assert "Psycho" not in card_titles(page)
    assert "★ 5" in page.split('class="history"')[1]


def test_a_rating_made_through_one_worker_is_left_out_by_every_other_at_once(make_app):
    """Two processes (gunicorn -w 2) share the instance folder, so the store, but not memory."""
    first, second = make_app().test_client(), make_app().test_client()
    page = "/recommendations?user_id=3&n=5"
    assert card_titles(second.get(page).get_data(as_text=True))[0] == "Psycho"  # model loaded
    assert rate(first, "3", "h4", 5).status_code == 303
    assert "Psycho" not in card_titles(second.get(page).get_data(as_text=True))
    api_items = second.get("/api/recommendations?user_id=3&n=5").get_json()["items"]
    assert "h4" not in [item["item_id"] for item in api_items]


def test_rating_needs_the_forms_csrf_token(client):
    csrf_of(client)
    response = client.post(
        "/ratings", data={"csrf_token": "forged", "user_id": "3", "item_id": "h4", "rating": "5"}
    )
    assert response.status_code == 400
    message = "<p>The form has expired. Reload the page and try again.</p>"
    assert message in response.get_data(as_text=True)


def test_a_form_from_an_earlier_page_still_works_after_opening_another(client):
    token = csrf_of(client)  # the results page, in one tab
    assert csrf_of(client, "/movies?item_id=h4&user_id=3") == token  # a movie page, in another
    form = {"csrf_token": token, "user_id": "3", "item_id": "h4", "rating": "5"}
    assert client.post("/ratings", data=form).status_code == 303


def stored_ratings(client) -> int:
    return len(client.application.extensions["movies"].store)


def test_a_forged_cross_site_post_without_session_or_token_is_refused(client):
    # What `curl -d user_id=victim -d item_id=h4 -d rating=1 .../ratings` sends.
    response = client.post("/ratings", data={"user_id": "victim", "item_id": "h4", "rating": "1"})
    assert response.status_code == 400
    assert (
        "<p>This form came without a session, so it has no form token (cookies may be blocked, "
        "or it was sent from another site). Reload the page and try again.</p>"
    ) in response.get_data(as_text=True)
    assert stored_ratings(client) == 0


@pytest.mark.parametrize("sent", ["", None])
def test_a_session_without_a_token_never_matches(client, sent):
    client.post("/new")  # a session, but no page with a form was ever shown
    form = {"user_id": "3", "item_id": "h4", "rating": "5"}
    if sent is not None:
        form["csrf_token"] = sent
    response = client.post("/ratings", data=form)
    assert response.status_code == 400
    assert "no form token" in response.get_data(as_text=True)
    assert stored_ratings(client) == 0


@pytest.mark.parametrize("sent", ["", "é", "\u2603" * 43])
def test_a_wrong_or_non_ascii_token_is_refused_not_a_crash(client, sent):
    csrf_of(client)  # the session now has a token
    form = {"csrf_token": sent, "user_id": "3", "item_id": "h4", "rating": "5"}
    response = client.post("/ratings", data=form)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert stored_ratings(client) == 0


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"rating": "6"}, 400),
        ({"rating": "0"}, 400),
        ({"rating": "lots"}, 400),
        ({"rating": "3.3"}, 400),
        ({"user_id": ""}, 400),
        ({"item_id": "no-such-movie"}, 404),
    ],
)
def test_bad_ratings_are_refused(client, changes, status):
    form = {"csrf_token": csrf_of(client), "user_id": "3", "item_id": "h4", "rating": "4"}
    assert client.post("/ratings", data={**form, **changes}).status_code == status


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_rating_never_redirects_off_site(client, target):
    response = rate(client, "3", "h4", 4, next=target)
    assert response.headers["Location"].startswith("/recommendations?user_id=3")


@pytest.mark.parametrize(
    "target",
    [
        "/recommendations?user_id=3\r\nSet-Cookie: x=1",  # header injection
        "/movies?item_id=h4\n",
        "/\t/evil.example/",  # browsers drop the tab: //evil.example/
        "/a\x00b",
        "/a\x7fb",
        "/a\x85b",  # a C1 control character
        "javascript:alert(1)",
        "movies?item_id=h4",  # relative, not a path
        "/" + "a" * 5000,
    ],
)
def test_an_unsafe_next_falls_back_to_the_users_list_and_the_rating_is_kept(client, target):
    response = rate(client, "3", "h4", 4, next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/recommendations?user_id=3"
    assert client.application.extensions["movies"].store.for_user("3")[0].rating == 4.0


def test_a_local_next_with_non_ascii_text_is_kept_percent_encoded(client):
    response = rate(client, "3", "h4", 4, next="/recommendations?user_id=ünï")
    assert response.status_code == 303
    assert response.headers["Location"] == "/recommendations?user_id=%C3%BCn%C3%AF"


def test_on_personalize_a_rating_is_sent_with_put_events(make_app):
    events = fake_client("personalize-events")
    settings = {"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN, "PERSONALIZE_TRACKING_ID": "track-1"}
    with Stubber(events) as stubber:
        stubber.add_response(
            "put_events",
            {},
            {"trackingId": "track-1", "sessionId": ANY, "userId": "3", "eventList": ANY},
        )
        app = make_app(settings, events=EventSender(events, "track-1"))
        client = app.test_client()
        form = {"csrf_token": csrf_of(client, "/movies?item_id=h4&user_id=3"), "user_id": "3",
                "item_id": "h4", "rating": "4"}
        page = client.post("/ratings", data=form, follow_redirects=False)
        stubber.assert_no_pending_responses()
    assert page.status_code == 303
    assert app.extensions["movies"].store.for_user("3")[0].rating == 4.0


def test_a_put_events_failure_is_a_notice_and_the_rating_is_kept(make_app):
    events, runtime = fake_client("personalize-events"), fake_client("personalize-runtime")
    settings = {"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN, "PERSONALIZE_TRACKING_ID": "track-1"}
    with Stubber(events) as event_stub, Stubber(runtime) as runtime_stub:
        event_stub.add_client_error("put_events", "InvalidInputException", "bad tracker", 400)
        runtime_stub.add_response("get_recommendations", {"itemList": [{"itemId": "c1"}]}, None)
        app = make_app(
            settings,
            events=EventSender(events, "track-1"),
            recommender=PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN),
        )
        client = app.test_client()
        form = {"csrf_token": csrf_of(client, "/movies?item_id=h4&user_id=3"), "user_id": "3",
                "item_id": "h4", "rating": "4"}
        page = client.post("/ratings", data=form, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "not sent to Personalize" in html
    assert app.extensions["movies"].store.for_user("3")[0].rating == 4.0


# --- New users and finding users -----------------------------------------------------------------


def test_a_new_user_rates_three_popular_movies_then_gets_personal_ones(client):
    response = client.post("/new")
    user_id = parse_qs(urlsplit(response.headers["Location"]).query)["user_id"][0]
    assert user_id.startswith("guest-")
    page = client.get(f"/recommendations?user_id={user_id}").get_data(as_text=True)
    assert "Rate 3 more movies" in page and "Popular movies" in page
    for count, item in enumerate(["h1", "h2", "h3"], start=1):
        rate(client, user_id, item, 5)
        page = client.get(f"/recommendations?user_id={user_id}&n=3").get_data(as_text=True)
        if count < 3:
            assert f"Rate {3 - count} more" in page
    assert "Popular movies" not in page
    # Three horror ratings: the personal list is led by the horror films not yet rated.
    assert set(card_titles(page)) <= {"Psycho", "The Thing", "Scream"}
    assert "Continue as " + user_id in client.get("/").get_data(as_text=True)


def test_until_a_new_user_has_rated_three_they_see_popular_movies_they_have_not_rated(client):
    response = client.post("/new")
    user_id = parse_qs(urlsplit(response.headers["Location"]).query)["user_id"][0]
    for item in ("h1", "c1"):
        rate(client, user_id, item, 5)
    page = client.get(f"/recommendations?user_id={user_id}&n=12").get_data(as_text=True)
    assert "Popular movies" in page
    titles = card_titles(page)
    assert len(titles) == 10 and not {"Alien", "Airplane!"} & set(titles)
    comedies = client.get(f"/recommendations?user_id={user_id}&n=4&genre=Comedy")
    assert "Popular movies" in comedies.get_data(as_text=True)
    titles = card_titles(comedies.get_data(as_text=True))
    assert len(titles) == 4 and not set(titles) & (HORROR_TITLES | {"Airplane!"})


def test_a_card_shows_personalizes_reason_but_never_popular(make_app):
    with stubbed("personalize-runtime") as (runtime, stubber):
        answer = {"itemList": [{"itemId": "h4", "reason": ["Exploration"]}, {"itemId": "c2"}]}
        stubber.add_response("get_recommendations", answer, None)
        app = make_app(recommender=PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN))
        html = app.test_client().get("/recommendations?user_id=3&n=2").get_data(as_text=True)
    assert REASONS.findall(html.split('class="history"')[0]) == ["Exploration"]
    cold = make_app().test_client().get("/recommendations?user_id=ghost&n=3")
    assert REASONS.findall(cold.get_data(as_text=True)) == []  # the popular list's "popular"


def test_the_form_offers_the_default_count_and_a_few_users_to_try(client):
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<input id="n" [^>]*value="10">', html)
    assert "The ratings have 40 users. Try" in html
    tried = re.findall(r'<a href="/recommendations\?user_id=(\d+)">', html)
    assert tried == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("query", "count"), [("user_id=alice&n=0", "0"), ("user_id=+&n=", "10")]
)
def test_a_refused_form_comes_back_with_what_was_entered(client, query, count):
    response = client.get(f"/recommendations?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    user_id = parse_qs(query, keep_blank_values=True)["user_id"][0]
    assert f'<input id="user_id" name="user_id" value="{user_id}"' in html
    assert re.search(rf'<input id="n" [^>]*value="{count}">', html)


def test_random_user_goes_to_a_known_user(client):
    response = client.get("/random")
    assert response.status_code == 303
    user_id = parse_qs(urlsplit(response.headers["Location"]).query)["user_id"][0]
    assert user_id in {str(user) for user in range(40)}


# --- Genre filter -------------------------------------------------------------------------------


def test_the_genre_filter_keeps_n_movies_of_that_genre(client):
    html = client.get("/recommendations?user_id=3&n=5&genre=Comedy").get_data(as_text=True)
    titles = card_titles(html)
    assert len(titles) == 5  # a horror fan, yet five comedies: filtered before the cut
    comedies = {"Airplane!", "Groundhog Day", "The Big Lebowski", "Annie Hall",
                "Some Like It Hot", "Tootsie"}
    assert set(titles) <= comedies
    assert '<option value="Comedy" selected>' in html


HORROR_TITLES = {"Alien", "Halloween", "The Shining", "Psycho", "The Thing", "Scream"}


def test_a_user_without_ratings_gets_popular_movies_of_the_chosen_genre(client):
    html = client.get("/recommendations?user_id=nobody&n=4&genre=Horror").get_data(as_text=True)
    assert "Popular movies" in html
    titles = card_titles(html)
    assert len(titles) == 4 and set(titles) <= HORROR_TITLES
    assert '<option value="Horror" selected>' in html


def test_an_unknown_genre_is_a_400(client):
    response = client.get("/recommendations?user_id=3&genre=Polka")
    assert response.status_code == 400
    assert "no genre called" in response.get_data(as_text=True)


def test_on_personalize_the_genre_goes_through_the_genre_filter(make_app):
    runtime = fake_client("personalize-runtime")
    with Stubber(runtime) as stubber:
        stubber.add_response(
            "get_recommendations",
            {"itemList": [{"itemId": "c2"}, {"itemId": "c3"}]},
            {"campaignArn": CAMPAIGN, "userId": "3", "numResults": 7,
             "filterArn": GENRE_FILTER, "filterValues": {"GENRES": '"Comedy"'}},
        )
        recommender = PersonalizeRecommender(
            runtime, campaign_arn=CAMPAIGN, genre_filter_arn=GENRE_FILTER
        )
        settings = {"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN,
                    "PERSONALIZE_GENRE_FILTER_ARN": GENRE_FILTER}
        client = make_app(settings, recommender=recommender).test_client()
        # User 3 rated 5 films: 2 asked for + 5 more, so the list survives dropping rated ones.
        html = client.get("/recommendations?user_id=3&n=2&genre=Comedy").get_data(as_text=True)
    assert card_titles(html) == ["Groundhog Day", "The Big Lebowski"]


def test_without_a_genre_filter_personalize_hides_the_genre_menu(make_app):
    client = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}).test_client()
    response = client.get("/recommendations?user_id=3&genre=Comedy")
    assert response.status_code == 400
    assert "PERSONALIZE_GENRE_FILTER_ARN" in response.get_data(as_text=True)


def test_without_a_ratings_file_the_form_offers_no_users_to_try(make_app, tmp_path):
    web = make_app({"RATINGS_PATH": str(tmp_path / "none.csv")}).test_client()
    response = web.get("/")
    assert response.status_code == 200
    assert "The ratings have" not in response.get_data(as_text=True)


# --- What a card links to -----------------------------------------------------------------------


def test_a_cards_links_and_rating_form_point_where_url_for_would(client):
    html = client.get("/recommendations?user_id=3&n=2").get_data(as_text=True)
    grid, history = html.split('class="history"')
    card = grid.split('<article class="card"')[1]
    item_id = re.search(r'data-item-id="([^"]+)"', card).group(1)
    assert f'href="/movies?item_id={item_id}&amp;user_id=3"' in card
    assert 'action="/ratings"' in card
    assert 'name="next" value="/recommendations?user_id=3&amp;n=2"' in card
    assert 'src="/static/placeholder-poster.svg"' in card  # no OMDb key: the placeholder
    assert client.get("/static/placeholder-poster.svg").status_code == 200
    # The history's cards have no form and link without a user ID.
    rated = re.search(r'<article class="card compact" data-item-id="([^"]+)"', history).group(1)
    assert f'href="/movies?item_id={rated}"' in history


@pytest.mark.parametrize("user_id", ["3", "guest:1/2", "a b&c", "ünï"])
def test_a_cards_movie_link_is_the_same_text_as_url_for(make_app, user_id):
    from flask import url_for

    from pages import PageLinks

    app = make_app()
    with app.test_request_context("/recommendations"):
        expected = url_for("movies.movie", item_id="h4", user_id=user_id)
        assert PageLinks().movie("h4", user_id) == expected
        assert PageLinks().movie("h4") == url_for("movies.movie", item_id="h4")


def test_a_movie_page_shows_the_users_own_rating_on_its_card(client):
    assert rate(client, "3", "h4", 4).status_code == 303
    html = client.get("/movies?item_id=h4&user_id=3").get_data(as_text=True)
    card = html.split("More like this")[0]
    assert '<p class="user-rating" aria-label="Rated 4 out of 5">' in card
    assert card.count("star on") == 4 and "Your rating" in card


def test_a_because_movie_without_stars_is_named_without_them():
    from dataset import Catalog, Movie
    from pages import _reason
    from recommender.interface import Recommendation

    catalog = Catalog([Movie("h1", "Alien"), Movie("h2", "Aliens")])
    item = Recommendation("h2", because="h1")
    assert _reason(catalog, item, {"h1": None}) == "Because you rated Alien"  # implicit
    assert _reason(catalog, item, {"h1": 4.5}) == "Because you rated Alien ★4.5"


def test_a_next_as_long_as_the_limit_is_kept_and_one_longer_is_not(client):
    from pages import MAX_NEXT_LENGTH

    longest = "/recommendations?user_id=3&x=" + "a" * (MAX_NEXT_LENGTH - 29)
    assert len(longest) == MAX_NEXT_LENGTH
    assert rate(client, "3", "h4", 4, next=longest).headers["Location"] == longest
    too_long = longest + "a"
    assert rate(client, "3", "h4", 4, next=too_long).headers["Location"] == (
        "/recommendations?user_id=3"
    )


def test_the_form_page_without_a_ratings_file_offers_no_users_to_try(make_app, tmp_path):
    app = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN,
                    "RATINGS_PATH": str(tmp_path / "no-ratings.csv")})
    assert app.extensions["movies"].interactions is None
    page = app.test_client().get("/")
    assert page.status_code == 200
    assert "The ratings have" not in page.get_data(as_text=True)
