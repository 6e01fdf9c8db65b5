"""Who may write: the open demo mode, a sign-in proxy's header, API tokens, and rate limits.

Every mode goes through the test client; limits are checked in memory and across two app
instances sharing one Redis, as two workers would.
"""

from __future__ import annotations

import csv
import re
import secrets
from typing import Any

import pytest

import access
import config

pytest_plugins = ["services_support"]  # redis_url, closed_port

PROXY = "10.0.0.5"  # the sign-in proxy, inside TRUSTED_PROXIES
STRANGER = "203.0.113.9"  # anyone else
HEADER = "X-Amzn-Oidc-Identity"
TOKEN = "s3cret-token-for-tests"
TOKENS = f"ci:{access.token_digest(TOKEN)}"


def parsed(**raw: str) -> dict[str, Any]:
    """Settings as the environment would give them, parsed by config's own parsers."""
    return {name: config.SETTINGS[name][1](value) for name, value in raw.items()}


def behind_proxy(**raw: str) -> dict[str, Any]:
    return parsed(ACCESS_MODE="trusted-header", TRUSTED_PROXIES="10.0.0.0/24", **raw)


def as_user(user: str, address: str = PROXY) -> dict[str, Any]:
    """Test-client arguments for a request the proxy signed `user` into (or a forgery)."""
    return {"headers": {HEADER: user}, "environ_base": {"REMOTE_ADDR": address}}


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def rate_form(client, user: str, item: str = "h4", **kwargs: Any):
    """A card's rating form as a browser sends it, after loading a page for its token."""
    page = client.get(f"/movies?item_id={item}&user_id={user}", **kwargs)
    token = csrf_from(page.get_data(as_text=True)) if page.status_code == 200 else "none"
    form = {"csrf_token": token, "user_id": user, "item_id": item, "rating": "4"}
    return client.post("/ratings", data=form, **kwargs)


def sources(app) -> dict[tuple[str, str], str | None]:
    store = app.extensions["movies"].store
    return {(user, item): source for user, item, _r, _t, source in store.export()}


# ---------------------------------------------------------------------------------------------
# Open mode: the workshop's demo


def test_open_is_the_default_and_the_pages_say_anyone_can_act_as_any_user(make_app):
    app = make_app()
    client = app.test_client()

    assert app.config["ACCESS_MODE"] == "open"
    home = client.get("/").get_data(as_text=True)
    assert "Demo mode: anyone can act as any user." in home
    assert 'name="user_id"' in home  # the user-ID box, as in the workshop
    assert client.get("/recommendations?user_id=3").status_code == 200
    assert client.get("/recommendations?user_id=25").status_code == 200


def test_open_mode_records_the_browser_session_or_the_api_client_as_the_source(make_app):
    app = make_app()
    client = app.test_client()

    assert rate_form(client, "3").status_code == 303
    api = client.post("/api/ratings", json={"user_id": "25", "item_id": "c1", "rating": 3})
    assert api.status_code == 201
    found = sources(app)
    assert re.fullmatch(r"session:[0-9a-f-]{36}", found[("3", "h4")])
    assert found[("25", "c1")] == "api:127.0.0.1"


def test_open_mode_checks_a_token_that_is_sent_and_records_its_name(make_app):
    app = make_app(parsed(API_TOKENS=TOKENS))
    client = app.test_client()
    rating = {"user_id": "3", "item_id": "h4", "rating": 4}

    wrong = client.post("/api/ratings", json=rating, headers=bearer("guess"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer ")
    assert re.search(r'error="?invalid_token"?', wrong.headers["WWW-Authenticate"])
    assert len(app.extensions["movies"].store) == 0

    assert client.post("/api/ratings", json=rating, headers=bearer()).status_code == 201
    assert sources(app) == {("3", "h4"): "token:ci"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com"])
def test_open_mode_on_a_network_address_refuses_to_start_and_names_the_setting(host):
    with pytest.raises(config.ConfigError, match="ALLOW_OPEN_ON_NETWORK"):
        config.from_environment({"HOST": host})
    allowed = config.from_environment({"HOST": host, "ALLOW_OPEN_ON_NETWORK": "true"})
    assert allowed["HOST"] == host
    behind = config.from_environment(
        {"HOST": host, "ACCESS_MODE": "trusted-header", "TRUSTED_PROXIES": "10.0.0.0/16"}
    )
    assert behind["ACCESS_MODE"] == "trusted-header"


def test_python_app_py_refuses_to_serve_open_mode_on_the_network(monkeypatch, tmp_path):
    import app

    monkeypatch.setenv("RATINGS_PATH", str(tmp_path / "none.csv"))
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setattr(app.Flask, "run", lambda *args, **kwargs: pytest.fail("it served"))
    with pytest.raises(SystemExit, match="Configuration error: ACCESS_MODE is open"):
        app.main()


def test_trusted_header_mode_needs_the_proxys_addresses():
    with pytest.raises(config.ConfigError, match="TRUSTED_PROXIES"):
        config.from_environment({"ACCESS_MODE": "trusted-header"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCESS_MODE", "closed"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("API_TOKENS", "ci:not-a-hash-but-maybe-a-secret"),
        ("API_TOKENS", f"{TOKENS},{TOKENS}"),
        ("RATE_LIMIT_WRITES", "lots"),
        ("IDENTITY_HEADER", "X-User: me"),
    ],
)
def test_unusable_access_settings_are_refused_by_name_without_quoting_secrets(name, value):
    with pytest.raises(config.ConfigError, match=f"^{name}: ") as refused:
        config.from_environment({name: value})
    assert "maybe-a-secret" not in str(refused.value)


# ---------------------------------------------------------------------------------------------
# Behind a sign-in proxy


def test_the_proxys_header_signs_the_person_in_and_the_user_id_box_becomes_you(make_app):
    client = make_app(behind_proxy()).test_client()

    home = client.get("/", **as_user("alice")).get_data(as_text=True)
    assert "You are signed in as <strong>alice</strong>" in home
    assert 'name="user_id"' not in home  # no box to type someone else's ID into
    assert "Demo mode" not in home
    mine = client.get("/recommendations", **as_user("alice"))
    assert mine.status_code == 200
    assert "Recommended for user <span class=\"user-id\">alice</span>" in mine.get_data(True)
    assert client.post("/new", **as_user("alice")).headers["Location"] == "/recommendations"


def test_the_header_from_anywhere_but_the_proxy_is_ignored(make_app):
    app = make_app(behind_proxy())
    client = app.test_client()

    forged = client.get("/recommendations?user_id=alice", **as_user("alice", STRANGER))
    assert forged.status_code == 403
    assert "did not come through" in forged.get_data(as_text=True)
    # Even with a form token from a real visit, the forged header is nobody.
    page = client.get("/recommendations", **as_user("alice")).get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "user_id": "alice", "item_id": "h4", "rating": "4"}
    assert client.post("/ratings", data=form, **as_user("alice", STRANGER)).status_code == 403
    assert len(app.extensions["movies"].store) == 0
    assert client.post("/ratings", data=form, **as_user("alice")).status_code == 303


def test_another_users_page_is_refused(make_app):
    client = make_app(behind_proxy()).test_client()

    theirs = client.get("/recommendations?user_id=3", **as_user("alice"))
    assert theirs.status_code == 403
    assert "You are signed in as alice" in theirs.get_data(as_text=True)
    assert client.get("/movies?item_id=h1&user_id=3", **as_user("alice")).status_code == 403
    assert client.get("/movies?item_id=h1", **as_user("alice")).status_code == 200


def test_rating_as_someone_else_is_a_403_and_as_yourself_records_the_proxy_identity(make_app):
    app = make_app(behind_proxy())
    client = app.test_client()
    page = client.get("/recommendations", **as_user("alice")).get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "item_id": "h4", "rating": "4"}

    other = client.post("/ratings", data={**form, "user_id": "3"}, **as_user("alice"))
    assert other.status_code == 403
    assert "only as yourself" in other.get_data(as_text=True)
    own = client.post("/ratings", data={**form, "user_id": "alice"}, **as_user("alice"))
    assert own.status_code == 303
    assert sources(app) == {("alice", "h4"): "proxy:alice"}


def test_api_writes_need_a_token_behind_the_proxy_and_reads_stay_open(make_app):
    app = make_app(behind_proxy(API_TOKENS=TOKENS))
    client = app.test_client()
    rating = {"user_id": "3", "item_id": "h4", "rating": 4}

    missing = client.post("/api/ratings", json=rating)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="movie-recs API"'
    assert "needs a token" in missing.get_json()["detail"]
    assert client.post("/api/ratings", json=rating, headers=bearer("guess")).status_code == 401
    # The proxy's header is no API credential.
    assert client.post("/api/ratings", json=rating, **as_user("3")).status_code == 401
    assert len(app.extensions["movies"].store) == 0

    assert client.post("/api/ratings", json=rating, headers=bearer()).status_code == 201
    assert sources(app) == {("3", "h4"): "token:ci"}
    assert client.get("/api/recommendations?user_id=3").status_code == 200


def test_api_reads_need_a_token_when_configured(make_app):
    client = make_app(behind_proxy(API_TOKENS=TOKENS, API_READS_NEED_TOKEN="true")).test_client()

    assert client.get("/api/similar?item_id=h1").status_code == 401
    assert client.get("/api/similar?item_id=h1", headers=bearer()).status_code == 200


def test_tokens_new_prints_a_token_whose_entry_lets_it_write(make_app):
    runner = make_app().test_cli_runner()
    made = runner.invoke(args=["tokens", "new", "etl"])
    assert made.exit_code == 0, made.output
    token = re.search(r"^  (\S+)$", made.output, re.MULTILINE).group(1)
    entry = re.search(r"^  (etl:[0-9a-f]{64})$", made.output, re.MULTILINE).group(1)
    assert token not in entry

    app = make_app(behind_proxy(API_TOKENS=entry))
    rating = {"user_id": "3", "item_id": "h4", "rating": 4}
    answer = app.test_client().post("/api/ratings", json=rating, headers=bearer(token))
    assert answer.status_code == 201
    assert runner.invoke(args=["tokens", "new", "bad name"]).exit_code == 2


# ---------------------------------------------------------------------------------------------
# Rate limits


def test_writes_past_the_limit_get_429_with_retry_after_in_html_or_json(make_app):
    app = make_app(parsed(RATE_LIMIT_WRITES="2 per minute"))
    client = app.test_client()
    assert rate_form(client, "3", "h4").status_code == 303
    assert rate_form(client, "3", "h5").status_code == 303

    page = rate_form(client, "3", "h6")
    assert page.status_code == 429
    assert page.mimetype == "text/html"
    assert int(page.headers["Retry-After"]) > 0
    assert "Too many ratings" in page.get_data(as_text=True)
    # One budget for the form and the API together.
    api = client.post("/api/ratings", json={"user_id": "3", "item_id": "h6", "rating": 4})
    assert api.status_code == 429
    assert int(api.headers["Retry-After"]) > 0
    assert api.get_json()["error"] == "too many requests"
    assert len(app.extensions["movies"].store) == 2


def test_results_pages_past_the_limit_get_429_and_other_clients_do_not(make_app):
    client = make_app(parsed(RATE_LIMIT_READS="2 per minute")).test_client()
    for _ in range(2):
        assert client.get("/recommendations?user_id=3").status_code == 200

    limited = client.get("/recommendations?user_id=3")
    assert limited.status_code == 429
    assert "Too many pages" in limited.get_data(as_text=True)
    assert client.get("/api/recommendations?user_id=3").status_code == 429
    assert client.get("/").status_code == 200  # cheap pages are not limited
    other = {"environ_base": {"REMOTE_ADDR": STRANGER}}
    assert client.get("/recommendations?user_id=3", **other).status_code == 200


def test_behind_the_proxy_each_client_has_its_own_budget_and_cannot_forge_one(make_app):
    client = make_app(parsed(RATE_LIMIT_READS="1 per minute", TRUSTED_PROXIES=PROXY)).test_client()

    def page(forwarded_for: str, address: str = PROXY) -> int:
        answer = client.get(
            "/api/similar?item_id=h1",
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": address},
        )
        return answer.status_code

    assert page("198.51.100.1") == 200
    assert page("198.51.100.1") == 429
    assert page("198.51.100.2") == 200  # another client behind the same proxy
    # Not from the proxy: X-Forwarded-For is the client's own claim, and buys nothing.
    assert page("198.51.100.3", STRANGER) == 200
    assert page("198.51.100.4", STRANGER) == 429


def test_a_token_has_its_own_budget(make_app):
    client = make_app(parsed(RATE_LIMIT_READS="1 per minute", API_TOKENS=TOKENS)).test_client()
    assert client.get("/api/similar?item_id=h1").status_code == 200
    assert client.get("/api/similar?item_id=h1").status_code == 429
    assert client.get("/api/similar?item_id=h1", headers=bearer()).status_code == 200


def test_open_mode_caps_the_new_user_ids_one_client_creates(make_app):
    app = make_app(parsed(RATE_LIMIT_NEW_USERS="2 per hour"))
    client = app.test_client()

    def rate(user: str) -> int:
        rating = {"user_id": user, "item_id": "h4", "rating": 4}
        return client.post("/api/ratings", json=rating).status_code

    assert rate("new-1") == 201
    assert rate("new-2") == 201
    capped = client.post("/api/ratings", json={"user_id": "new-3", "item_id": "h4", "rating": 4})
    assert capped.status_code == 429
    assert int(capped.headers["Retry-After"]) > 0
    assert "new user IDs" in capped.get_json()["detail"]
    assert client.post("/new").status_code == 429  # "I'm new here" makes one too
    assert rate("new-1") == 201  # a user made before
    assert rate("3") == 201  # a user from the ratings file
    assert {user for user, *_ in app.extensions["movies"].store.export()} == {
        "new-1", "new-2", "3"
    }


def test_the_new_user_cap_is_for_open_mode_only(make_app):
    client = make_app(behind_proxy(RATE_LIMIT_NEW_USERS="1 per hour", API_TOKENS=TOKENS))
    client = client.test_client()
    for user in ("new-1", "new-2", "new-3"):
        rating = {"user_id": user, "item_id": "h4", "rating": 4}
        assert client.post("/api/ratings", json=rating, headers=bearer()).status_code == 201


def test_a_blank_limit_means_no_limit(make_app):
    client = make_app(parsed(RATE_LIMIT_READS="")).test_client()
    assert all(client.get("/api/similar?item_id=h1").status_code == 200 for _ in range(70))


def test_two_workers_sharing_redis_share_the_limits(make_app, redis_url):
    # Two app instances on one Redis, as two gunicorn workers or two machines would be.
    limits = parsed(RATE_LIMIT_READS="3 per minute", CACHE_URL=redis_url)
    first, second = make_app(limits).test_client(), make_app(limits).test_client()
    client = {"environ_base": {"REMOTE_ADDR": f"192.0.2.{secrets.randbelow(250) + 1}"}}

    assert first.get("/api/similar?item_id=h1", **client).status_code == 200
    assert second.get("/api/similar?item_id=h1", **client).status_code == 200
    assert first.get("/api/similar?item_id=h1", **client).status_code == 200
    refused = second.get("/api/similar?item_id=h1", **client)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_without_redis_each_worker_counts_on_its_own(make_app):
    limits = parsed(RATE_LIMIT_READS="1 per minute")
    first, second = make_app(limits).test_client(), make_app(limits).test_client()
    assert first.get("/api/similar?item_id=h1").status_code == 200
    assert second.get("/api/similar?item_id=h1").status_code == 200
    assert first.get("/api/similar?item_id=h1").status_code == 429


def test_with_redis_unreachable_pages_are_served_and_limits_count_in_memory(
    make_app, closed_port, caplog
):
    limits = parsed(RATE_LIMIT_READS="1 per minute", CACHE_URL=f"redis://127.0.0.1:{closed_port}/0")
    client = make_app(limits).test_client()
    assert client.get("/recommendations?user_id=3").status_code == 200
    assert client.get("/recommendations?user_id=3").status_code == 429
    assert "falling back to in-memory" in caplog.text


# ---------------------------------------------------------------------------------------------
# Who did what: the export


def test_the_export_passes_data_validate_and_reads_back_as_the_stored_ratings(make_app, tmp_path):
    from dataset import read_interactions
    from store import ratings

    app = make_app(parsed(API_TOKENS=TOKENS))
    store = app.extensions["movies"].store
    # Enough for Personalize's minimums (1,000 interactions, 25 users with two or more).
    rows = [
        {"user_id": f"u{user}", "item_id": f"m{item}", "rating": 1 + (user + item) % 9 / 2,
         "timestamp": 1_700_000_000 + user * 100 + item}
        for user in range(40) for item in range(25)
    ]
    with store.engine.begin() as connection:
        connection.execute(ratings.insert(), rows)
    client = app.test_client()
    awkward = 'Zoë, "the critic"'  # a comma, quotes and non-ASCII, as a user ID may have
    answer = client.post(
        "/api/ratings", json={"user_id": awkward, "item_id": "h1", "rating": 4.5}, headers=bearer()
    )
    assert answer.status_code == 201
    runner = app.test_cli_runner()
    out = tmp_path / "export.csv"

    exported = runner.invoke(args=["ratings", "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    validated = runner.invoke(args=["data", "validate", str(out)])
    assert validated.exit_code == 0, validated.output
    assert "1,001 interactions, 41 users" in validated.output

    assert out.read_text().splitlines()[0] == "USER_ID,ITEM_ID,RATING,TIMESTAMP"
    with out.open(newline="", encoding="utf-8") as handle:
        written = [(r["USER_ID"], r["ITEM_ID"], float(r["RATING"]), int(r["TIMESTAMP"]))
                   for r in csv.DictReader(handle)]
    assert written == [row[:4] for row in store.export()]
    back = read_interactions(out)  # as the app and `flask train` read it
    assert (len(back), back.n_users) == (1001, 41)
    assert [(event.item_id, event.rating) for event in back.history(awkward)] == [("h1", 4.5)]


def test_the_export_since_a_time_and_with_sources(make_app, tmp_path):
    app = make_app(parsed(API_TOKENS=TOKENS))
    store = app.extensions["movies"].store
    store.add("old", "h1", 4, timestamp=1_600_000_000, source="session:x")
    store.add("new", "h2", 5, timestamp=1_714_521_600, source="token:ci")  # 2024-05-01 UTC
    runner = app.test_cli_runner()

    for since in ("1714521600", "2024-05-01", "2024-05-01T00:00:00+00:00"):
        recent = runner.invoke(args=["ratings", "export", "--since", since])
        assert recent.output.splitlines() == ["USER_ID,ITEM_ID,RATING,TIMESTAMP",
                                              "new,h2,5,1714521600"], since
    sourced = runner.invoke(args=["ratings", "export", "--with-source"]).output.splitlines()
    assert sourced == ["USER_ID,ITEM_ID,RATING,TIMESTAMP,SOURCE",
                       "old,h1,4,1600000000,session:x", "new,h2,5,1714521600,token:ci"]
    refused = runner.invoke(args=["ratings", "export", "--since", "last week"])
    assert refused.exit_code == 2 and "Unix seconds" in refused.output


@pytest.mark.parametrize(
    "path",
    ["/home?user_id=3", "/shelf?name=top-picks&user_id=3", "/search?q=alien&user_id=3",
     "/compare?user_id=3", "/api/home?user_id=3", "/api/search?q=alien&user_id=3",
     "/api/compare?user_id=3"],
)
def test_the_discovery_pages_refuse_another_users_id_behind_the_proxy(make_app, path):
    client = make_app(behind_proxy()).test_client()
    assert client.get(path, **as_user("alice")).status_code == 403
    mine = path.replace("user_id=3", "user_id=alice")
    assert client.get(mine, **as_user("alice")).status_code == 200


@pytest.mark.parametrize(
    "path", ["/home", "/search?q=alien", "/compare?user_id=3", "/api/search?q=alien"]
)
def test_the_discovery_pages_share_the_reads_budget(make_app, path):
    client = make_app(parsed(RATE_LIMIT_READS="2 per minute")).test_client()
    for _ in range(2):
        assert client.get(path).status_code == 200
    limited = client.get(path)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"]
