"""The web flow through Flask's test client, on the embedded recommender and small data."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from aws_support import CAMPAIGN, stubbed

from app import create_app
from omdb import OmdbClient
from personalize import PersonalizeRecommender
from recommender.interface import RecommendationList

PROJECT = Path(__file__).resolve().parent.parent


def card_titles(html: str) -> list[str]:
    """Titles of the recommended cards (not the history list) in page order."""
    recommended = html.split('class="history"')[0]
    return re.findall(r'<h3 class="card-title"><a href="[^"]*">([^<]+)</a>', recommended)


# --- The flow ----------------------------------------------------------------------------------


def test_home_page_has_a_labelled_user_field(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="user_id">User ID</label>' in html
    assert 'id="user_id" name="user_id"' in html
    assert "40 users" in html  # how many IDs exist, with examples to try


@pytest.mark.parametrize("field", ["user_id", "text"])  # ours, and the workshop's field name
def test_posting_a_user_redirects_to_a_shareable_page(client, field):
    response = client.post("/result", data={field: " 3 ", "n": "4"})
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/recommendations"
    assert parse_qs(location.query) == {"user_id": ["3"], "n": ["4"]}


def test_recommendations_follow_the_users_taste(client):
    page = client.get("/recommendations?user_id=3&n=3")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    titles = card_titles(html)
    assert len(titles) == 3
    # User 3 watched horror (all but one film): the horror film it missed comes first.
    assert titles[0] == "Psycho"
    assert "Embedded recommender" in html
    assert "What this user watched" in html


def test_default_count_is_ten_when_there_are_enough_movies(client):
    html = client.get("/recommendations?user_id=25").get_data(as_text=True)
    # 12 movies, user 25 rated 5 comedies: 7 left, so all 7 are shown.
    assert len(card_titles(html)) == 7


def test_rated_movies_are_never_recommended(client):
    html = client.get("/recommendations?user_id=0&n=20").get_data(as_text=True)
    titles = card_titles(html)
    assert "Airplane!" not in titles  # user 0 rated it (2 stars)
    assert "Halloween" not in titles
    assert "Alien" in titles  # the one horror film user 0 skipped


def test_unknown_user_gets_popular_movies_flagged_as_such(client):
    html = client.get("/recommendations?user_id=nobody").get_data(as_text=True)
    assert "Popular movies" in html
    assert "has no ratings yet" in html
    assert card_titles(html)[0] == "Airplane!"  # the most rated film
    assert "No ratings from this user" in html


@pytest.mark.parametrize("user_id", ["a/b", "with space", "ünïcødé", "1&n=5"])
def test_any_string_id_round_trips_through_the_redirect(client, user_id):
    response = client.post("/result", data={"user_id": user_id}, follow_redirects=True)
    assert response.status_code == 200
    assert f'<span class="user-id">{user_id.replace("&", "&amp;")}</span>' in response.get_data(
        as_text=True
    )


def history_lists(html: str) -> dict[str, list[str]]:
    """The sidebar's lists: heading -> titles, in page order."""
    history = html.split('class="history"')[1]
    _before, *parts = re.split(r"<h3>([^<]+)</h3>", history)
    title = r'<h3 class="card-title"><a href="[^"]*">([^<]+)</a>'
    pairs = zip(parts[::2], parts[1::2], strict=True)
    return {heading: re.findall(title, body) for heading, body in pairs}


def test_history_shows_top_rated_then_other_recent_ratings_without_repeats(client):
    html = client.get("/recommendations?user_id=0").get_data(as_text=True)
    lists = history_lists(html)
    # User 0 gave five horror films 4 or 5 stars, then Airplane! 2 stars, most recently.
    assert lists["Top rated"] == ["Scream", "Psycho", "Halloween", "The Thing", "The Shining"]
    assert lists["Other recent ratings"] == ["Airplane!"]
    assert "★ 5" in html and "★ 2" in html


def test_a_user_with_five_ratings_sees_them_once(client):
    lists = history_lists(client.get("/recommendations?user_id=3").get_data(as_text=True))
    assert list(lists) == ["Top rated"]
    assert len(lists["Top rated"]) == 5


def test_workshop_style_ids_are_titled_from_the_id(tmp_path):
    ratings = tmp_path / "ratings.csv"
    rows = ["USER_ID,ITEM_ID,RATING,TIMESTAMP"]
    films = ['"Matrix, The (1999)"', "Heat (1995)", "Alien (1979)", "Toy Story (1995)"]
    for user in range(12):
        for position, film in enumerate(films):
            if position != user % len(films):
                rows.append(f"{user},{film},4,{1_600_000_000 + position}")
    ratings.write_text("\n".join(rows) + "\n")
    app = create_app(
        {"RATINGS_PATH": str(ratings), "ITEMS_PATH": str(tmp_path / "none.csv")},
        instance_path=str(tmp_path / "instance"),
    )
    html = app.test_client().get("/recommendations?user_id=0&n=1").get_data(as_text=True)
    assert card_titles(html) == ["The Matrix"]
    assert "(1999)" in html


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"user_id": ""}, "Enter a user ID"),
        ({"user_id": "   "}, "Enter a user ID"),
        ({}, "Enter a user ID"),
        ({"user_id": "x" * 257}, "at most 256 characters"),
        ({"user_id": "a\tb"}, "control characters"),
        ({"user_id": "a\x00b"}, "control characters"),
        ({"user_id": "1", "n": "0"}, "from 1 to 100"),
        ({"user_id": "1", "n": "101"}, "from 1 to 100"),
        ({"user_id": "1", "n": "ten"}, "whole number"),
        ({"user_id": "1", "n": "2.5"}, "whole number"),
    ],
)
def test_bad_input_shows_the_form_again_with_a_message(client, form, message):
    for response in (
        client.post("/result", data=form),
        client.get("/recommendations", query_string=form),
    ):
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert message in html
        assert '<form class="user-form"' in html


def test_exactly_256_characters_is_accepted(client):
    assert client.get("/recommendations", query_string={"user_id": "x" * 256}).status_code == 200


def test_unknown_path_is_a_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_an_unknown_movie_is_a_404_page_that_says_so(client):
    response = client.get("/movies?item_id=nope")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page not found" in html
    assert "No movie with this ID is in the catalogue or the ratings." in html


def test_wrong_method_is_a_405_page(client):
    response = client.get("/result")
    assert response.status_code == 405
    assert "Method not allowed" in response.get_data(as_text=True)


# --- Personalize backend ------------------------------------------------------------------------


@pytest.fixture
def stubbed_runtime():
    with stubbed("personalize-runtime") as client_and_stubber:
        yield client_and_stubber


def test_personalize_backend_serves_the_page(make_app, stubbed_runtime):
    runtime, stubber = stubbed_runtime
    stubber.add_response(
        "get_recommendations",
        {"itemList": [{"itemId": "h1", "score": 0.9}, {"itemId": "c2", "score": 0.5}]},
        {"campaignArn": CAMPAIGN, "userId": "ghost", "numResults": 2},
    )
    recommender = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN)
    app = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}, recommender=recommender)
    html = app.test_client().get("/recommendations?user_id=ghost&n=2").get_data(as_text=True)
    assert card_titles(html) == ["Alien", "Groundhog Day"]
    assert "Amazon Personalize · campaign movies" in html
    assert "not in the local ratings file" in html  # Personalize won't say it fell back


@pytest.mark.parametrize(
    ("code", "status", "shown"),
    [
        ("ResourceNotFoundException", 404, "has no resource"),
        ("InvalidInputException", 400, "rejected the request"),
        ("ThrottlingException", 400, "throttling"),
        ("AccessDeniedException", 403, "refused"),
    ],
)
def test_personalize_failures_give_a_503_page_and_the_app_keeps_serving(
    make_app, stubbed_runtime, code, status, shown
):
    runtime, stubber = stubbed_runtime
    stubber.add_client_error("get_recommendations", code, "message", status)
    stubber.add_response("get_recommendations", {"itemList": [{"itemId": "h1"}]}, None)
    recommender = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN)
    client = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}, recommender=recommender).test_client()
    failed = client.get("/recommendations?user_id=1")
    assert failed.status_code == 503
    html = failed.get_data(as_text=True)
    assert shown in html and "What to check" in html
    assert client.get("/recommendations?user_id=1").status_code == 200


def test_missing_credentials_give_a_503_page(make_app, monkeypatch, tmp_path):
    # A real client with no credentials anywhere: botocore fails before any network call.
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}).test_client()
    response = client.get("/recommendations?user_id=1")
    assert response.status_code == 503
    assert "No AWS credentials" in response.get_data(as_text=True)


def test_an_unknown_aws_profile_gives_a_503_page(make_app, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    response = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}).test_client().get(
        "/recommendations?user_id=1"
    )
    assert response.status_code == 503
    assert "no-such-profile" in response.get_data(as_text=True)


def test_missing_ratings_file_gives_a_503_page_not_a_crash(tmp_path):
    app = create_app(
        {"RATINGS_PATH": str(tmp_path / "missing.csv")}, instance_path=str(tmp_path / "i")
    )
    client = app.test_client()
    assert client.get("/").status_code == 200
    for path in ("/recommendations?user_id=1", "/movies?item_id=1", "/api/similar?item_id=1"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "missing.csv does not exist" in response.get_data(as_text=True)
    assert client.get("/random").status_code == 302  # back home, with a message


def test_a_broken_ratings_file_gives_a_503_page_naming_the_line(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("USER_ID,ITEM_ID,RATING,TIMESTAMP\n1,a,4,yesterday\n")
    app = create_app({"RATINGS_PATH": str(ratings)}, instance_path=str(tmp_path / "i"))
    response = app.test_client().get("/recommendations?user_id=1")
    assert response.status_code == 503
    assert "ratings.csv:2" in response.get_data(as_text=True)


# --- OMDb enrichment ----------------------------------------------------------------------------


class _FakeOmdb(OmdbClient):
    """A real OmdbClient on a plain session, so `responses` sees every request."""

    def __init__(self, key: str) -> None:
        super().__init__(key, session=requests.Session())


@responses.activate
def test_cards_show_omdb_details_and_never_the_key(make_app):
    responses.get(
        "https://www.omdbapi.com/",
        json={"Response": "True", "Title": "Psycho", "Plot": "A secretary embezzles.",
              "Runtime": "109 min", "imdbRating": "8.5", "imdbID": "tt0054215",
              "Poster": "https://m.media-amazon.com/psycho.jpg"},
    )
    key = "SECRET-KEY-123"
    client = make_app({"OMDB_API_KEY": key}, omdb=_FakeOmdb(key)).test_client()
    html = client.get("/recommendations?user_id=3&n=1").get_data(as_text=True)
    assert "A secretary embezzles." in html
    assert "109 min" in html and "IMDb 8.5/10" in html
    assert 'href="https://www.imdb.com/title/tt0054215/"' in html
    assert 'src="https://m.media-amazon.com/psycho.jpg"' in html
    assert "SECRET-KEY-123" not in html


@responses.activate
def test_omdb_failures_show_placeholder_posters(make_app):
    responses.get("https://www.omdbapi.com/", body=requests.exceptions.ConnectTimeout())
    client = make_app({"OMDB_API_KEY": "k"}, omdb=_FakeOmdb("k")).test_client()
    response = client.get("/recommendations?user_id=3&n=2")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('class="poster is-placeholder"') >= 2
    assert "placeholder-poster.svg" in html


def test_without_a_key_cards_show_catalogue_data(client):
    html = client.get("/recommendations?user_id=3&n=1").get_data(as_text=True)
    assert "Psycho" in html and "(1960)" in html and "<li>Horror</li>" in html
    assert "placeholder-poster.svg" in html


# --- Health, headers, pages ----------------------------------------------------------------------


def test_healthz_names_the_backend_and_what_is_loaded(client):
    before = client.get("/healthz").get_json()
    assert before["backend"] == "embedded" and before["model_loaded"] is False
    client.get("/recommendations?user_id=1")
    after = client.get("/healthz").get_json()
    assert after["model_loaded"] is True and after["catalog_loaded"] is True
    assert after["catalog_movies"] == 12


def test_healthz_says_whether_omdb_is_on_without_revealing_the_key(make_app):
    key = "k3y-0f-7he-0wner"
    with_key = make_app({"OMDB_API_KEY": key}).test_client().get("/healthz")
    without = make_app().test_client().get("/healthz")

    assert with_key.status_code == 200 and with_key.get_json()["omdb_enabled"] is True
    assert key not in with_key.get_data(as_text=True)
    assert without.status_code == 200 and without.get_json()["omdb_enabled"] is False


def test_healthz_is_503_when_the_ratings_file_is_missing_before_any_page_is_asked(tmp_path):
    app = create_app(
        {"RATINGS_PATH": str(tmp_path / "missing.csv")}, instance_path=str(tmp_path / "i")
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert "missing.csv does not exist" in body["reason"]
    assert body["model_loaded"] is False  # it reports; it builds nothing


def test_healthz_is_503_while_pages_fail_on_a_broken_ratings_file_and_ok_once_fixed(
    tmp_path, data_files
):
    ratings = tmp_path / "broken.csv"
    ratings.write_text("USER_ID,ITEM_ID,RATING,TIMESTAMP\n1,a,4,yesterday\n")
    app = create_app({"RATINGS_PATH": str(ratings)}, instance_path=str(tmp_path / "i"))
    client = app.test_client()
    assert client.get("/recommendations?user_id=1").status_code == 503
    failing = client.get("/healthz")
    assert failing.status_code == 503
    assert "broken.csv:2" in failing.get_json()["reason"]
    ratings.write_text(data_files[0].read_text())  # fixed in place: the next page rebuilds
    assert client.get("/healthz").status_code == 200
    assert client.get("/recommendations?user_id=1").status_code == 200
    assert client.get("/healthz").get_json()["status"] == "ok"


def csp_directives(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]} (CSP3's parsing, simplified)."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name.lower() not in directives, f"{name} given twice"
        directives[name.lower()] = sources
    return directives


def test_pages_send_a_strict_content_security_policy(client):
    policy = csp_directives(client.get("/").headers["Content-Security-Policy"])
    # Scripts and styles from this site only: no inline code, no eval, no CDN. Posters come
    # from OMDb's image hosts over HTTPS.
    assert policy == {
        "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
        "img-src": ["'self'", "https:", "data:"], "object-src": ["'none'"],
        "base-uri": ["'none'"], "form-action": ["'self'"], "frame-ancestors": ["'none'"],
    }


def test_pages_cannot_be_framed_by_other_sites(client):
    headers = client.get("/").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"  # for browsers without CSP level 2


def test_the_session_cookie_is_secure_when_served_over_https(client):
    client.post("/new", base_url="https://movies.example")
    assert client.get_cookie("session", domain="movies.example").secure


def test_the_session_cookie_still_works_over_plain_http_on_a_laptop(client):
    client.post("/new")
    assert client.get_cookie("session").secure is False


ACCOUNT_ID = "123456789012"  # in aws_support's CAMPAIGN


def test_healthz_on_personalize_hides_the_aws_account_id(make_app, stubbed_runtime):
    runtime, _stubber = stubbed_runtime
    recommender = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN)
    client = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}, recommender=recommender).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["arn"] == "arn:aws:personalize:us-east-1:ACCOUNT:campaign/movies"
    assert ACCOUNT_ID not in response.get_data(as_text=True)


def test_the_503_page_and_api_error_hide_the_aws_account_id(make_app, stubbed_runtime):
    runtime, stubber = stubbed_runtime
    for _ in range(2):
        stubber.add_client_error("get_recommendations", "ResourceNotFoundException", "", 404)
    recommender = PersonalizeRecommender(runtime, campaign_arn=CAMPAIGN)
    client = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}, recommender=recommender).test_client()
    for path in ("/recommendations?user_id=1", "/api/recommendations?user_id=1"):
        response = client.get(path)
        assert response.status_code == 503
        text = response.get_data(as_text=True)
        assert "has no resource arn:aws:personalize:us-east-1:ACCOUNT:campaign/movies" in text
        assert ACCOUNT_ID not in text


def test_healthz_is_503_when_the_aws_client_cannot_be_made(make_app, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    client = make_app({"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}).test_client()
    assert client.get("/recommendations?user_id=1").status_code == 503
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "no-such-profile" in response.get_json()["reason"]
    assert ACCOUNT_ID not in response.get_data(as_text=True)


def test_templates_have_no_inline_scripts_styles_or_remote_assets():
    for template in (PROJECT / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert "<style" not in text and " style=" not in text, template.name
        remote = re.search(r'(src|href)="(https?:)?//(?!www\.omdbapi|www\.imdb)', text)
        assert not remote, template.name


def test_an_oversized_body_is_refused_with_413(client):
    response = client.post("/result", data={"user_id": "x" * (2 << 20)})
    assert response.status_code == 413


def test_the_session_cookie_stays_off_cross_site_posts(client):
    client.post("/new")
    cookie = client.get_cookie("session")
    assert cookie.same_site == "Lax" and cookie.http_only


def test_a_misspelled_injected_service_is_an_error_not_ignored(make_app):
    with pytest.raises(TypeError, match="recommendr"):
        make_app(recommendr=object())


def test_debug_is_off_by_default(make_app):
    app = make_app()
    assert app.config["DEBUG"] is False
    assert app.config["HOST"] == "127.0.0.1" and app.config["PORT"] == 8080


def test_an_unexpected_error_is_a_500_page_without_a_traceback(make_app, caplog):
    class Broken:
        description = "broken"

        can_filter_by_genre = flags_cold_start = True

        def recommend(
            self, user_id, n, *, exclude=(), genre=None, history=None
        ) -> RecommendationList:
            raise RuntimeError("boom at /secret/path")

    response = make_app(recommender=Broken()).test_client().get("/recommendations?user_id=1")

    # The intended error reached the handler (and the log), not some TypeError on the way.
    [logged] = [record for record in caplog.records if record.exc_info]
    assert logged.exc_info[0] is RuntimeError and str(logged.exc_info[1]) == "boom at /secret/path"
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    problem = re.search(r'<section class="problem">(.*?)</section>', html, re.DOTALL).group(1)
    assert " ".join(re.sub(r"<[^>]+>", " ", problem).split()) == (
        "Something went wrong Find recommendations")
    assert "boom" not in html and "/secret/path" not in html and "Traceback" not in html
