"""Hostile requests to every route: never a 5xx, a traceback, non-JSON from /api/, or a stored
rating from a refused request.

Seeded (derandomize) and bounded: 30 examples for each field of each route, in each access
mode (open, and behind a sign-in proxy), about 30 s in all. Each case keeps every field valid
but one, so the hostile value reaches the code behind the checks; every request may also carry
hostile access headers (the proxy's identity header, X-Forwarded-For, Authorization). The
routes come from the app's url_map: a new route is fuzzed too, and the test fails until
ROUTE_PARAMS names its fields.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
from conftest import write_small_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import access
import config
from app import create_app


def _endpoints() -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SECRET_KEY": "routes"}, instance_path=folder)
        return sorted({rule.endpoint for rule in app.url_map.iter_rules()})


ENDPOINTS = _endpoints()


@dataclass(frozen=True)
class Params:
    """What a route reads: query fields, form fields, JSON body fields, path arguments."""

    query: tuple[str, ...] = ()
    form: tuple[str, ...] = ()
    json: tuple[str, ...] = ()
    path: tuple[str, ...] = ()


ROUTE_PARAMS: dict[str, Params] = {
    "movies.index": Params(),
    "movies.result": Params(form=("user_id", "text", "n")),
    "movies.random_user": Params(),
    "movies.new_user": Params(),
    "movies.recommendations": Params(query=("user_id", "n", "genre")),
    "movies.movie": Params(query=("item_id", "user_id")),
    "movies.rate": Params(form=("csrf_token", "user_id", "item_id", "rating", "next")),
    "api.recommendations": Params(query=("user_id", "n", "genre")),
    "api.similar": Params(query=("item_id", "n")),
    "api.ratings": Params(json=("user_id", "item_id", "rating", "session_id")),
    "movies.shelves_home": Params(query=("user_id",)),
    "movies.shelf_more": Params(query=("user_id", "name")),
    "movies.search": Params(query=("q", "user_id", "n")),
    "movies.compare_engines": Params(query=("user_id", "left", "right", "n")),
    "api.shelves_home": Params(query=("user_id", "n")),
    "api.search": Params(query=("q", "user_id", "n")),
    "api.compare_engines": Params(query=("user_id", "left", "right", "n")),
    "healthz": Params(),
    "static": Params(path=("filename",)),
}

# --- Values ------------------------------------------------------------------------------------

VALID_CSRF = "<the session's token>"  # replaced by the real token when the request is sent

# Values that pass a field's check, so that one hostile field at a time reaches deep code.
VALID: dict[str, list[object]] = {
    "user_id": ["3", "nobody", "0"],
    "text": ["3"],
    "item_id": ["h1", "h4", "c1"],
    "n": ["1", "5", "100"],
    "genre": ["Comedy", "Horror"],
    "rating": ["1", "4", "4.5", "5"],
    "next": ["/recommendations?user_id=3&n=5", "/movies?item_id=h1"],
    "csrf_token": [VALID_CSRF],
    "session_id": ["browser-1"],
    "filename": ["style.css", "placeholder-poster.svg"],
    "q": ["alien", "Shining, The", "groundhog dya"],
    "name": ["top-picks", "because-you-watched", "popular-in-genre", "popular"],
    "left": ["user-personalization", "popularity-count"],
    "right": ["sims", "popularity-count"],
}

INTERESTING = [
    "", " ", "1", "3", "0", "-1", "101", "4.5", "3.3", "5", "nan", "inf", "1e400", "1" + "0" * 400,
    "h1", "h4", "c1", "nobody", "Comedy", "Horror", "Polka", "\ud800", "a\udfffb", "\x00",
    "\r\n", "a\rb", "\t", "\x7f", "\x85", "\u2028", "\u202e", "é", "💥", "x" * 256, "x" * 257,
    "/recommendations?user_id=3\r\nSet-Cookie: a=b", "//evil.example", "/\t/evil.example",
    "https://evil.example/", "javascript:alert(1)", "/\\evil.example", "%00", "%FF",
    "{{ 7*7 }}", "<script>x</script>", "' OR 1=1 --", "../../etc/passwd", "../app.py",
]

texts = st.one_of(
    st.sampled_from(INTERESTING),
    st.text(max_size=30),
    st.text(st.characters(categories=["Cc", "Cs", "Zl", "Zp", "Cf"]), min_size=1, max_size=10),
)
huge = st.builds(lambda char, size: char * size, st.characters(), st.integers(1_000, 300_000))
# Form and query values may also be raw bytes, invalid UTF-8 included.
hostile = st.one_of(texts, texts, st.binary(max_size=20), huge)


# Characters that break things when slipped into an otherwise good value.
NASTY = ["\ud800", "\r\n", "\n", "\r", "\x00", "\t", "\x7f", "\x85", "\udfff", "\u2028", "\u202e",
         "é", "💥", "\\", "//", " ", "%0d%0a"]
spikes = st.one_of(st.sampled_from(NASTY), st.characters(categories=["Cc", "Cs"]))


@st.composite
def spiked(draw: st.DrawFn, valid: list[object]) -> str:
    """A valid value with a hostile character slipped in."""
    value = str(draw(st.sampled_from(valid)))
    at = draw(st.integers(min(1, len(value)), len(value)))  # after a leading "/", mostly
    return value[:at] + draw(spikes) + value[at:]


def value_for(name: str, others: st.SearchStrategy[object] = hostile) -> st.SearchStrategy[object]:
    """A bad value for the field: a valid one with a spike in it, or anything hostile."""
    valid = VALID.get(name)
    return st.one_of(spiked(valid), spiked(valid), others) if valid else others


def good_value_for(name: str) -> st.SearchStrategy[object]:
    valid = VALID.get(name)
    return st.sampled_from(valid) if valid else hostile


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True), texts,
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def _nested(depth: int, brackets: str) -> str:
    opening, closing = ("[", "]") if brackets == "[]" else ('{"a":', "}")
    return opening * depth + "1" + closing * depth


deep_json = st.builds(_nested, st.integers(1_000, 100_000), st.sampled_from(["[]", "{}"]))

CONTENT_TYPES = [
    None, "application/json", "application/json; charset=utf-8",
    "application/json; charset=latin-1", "application/json; charset=nonsense",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16", "multipart/form-data",
    "multipart/form-data; boundary=x", "text/plain", "application/xml", "", ";;;", "*/*",
    "application/vnd.api+json", "application/json\x7f",
]
other_headers = st.dictionaries(
    st.sampled_from(["Accept", "Accept-Language", "Referer", "X-Forwarded-Proto", "Origin"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=2,
)
# The headers access.py reads: who the proxy says is signed in, the client's address as proxies
# report it, and an API token. Values are Latin-1, as HTTP carries them, control bytes included.
IDENTITY_HEADER = "X-Amzn-Oidc-Identity"
TOKEN = "fuzz-token"
header_text = st.one_of(
    st.sampled_from(["", " ", "3", "nobody", "x" * 257, "\x00", "é", "a,b", "::1", "10.0.0.1"]),
    st.text(st.characters(min_codepoint=1, max_codepoint=255, exclude_characters="\r\n"),
            max_size=40),
)
access_headers = st.fixed_dictionaries(
    {},
    optional={
        IDENTITY_HEADER: st.one_of(st.sampled_from(["3", "nobody"]), header_text),
        "X-Forwarded-For": st.one_of(
            st.lists(st.one_of(st.ip_addresses().map(str), header_text), max_size=4).map(
                ", ".join
            ),
            header_text,
        ),
        "Authorization": st.one_of(
            st.just(f"Bearer {TOKEN}"),
            st.builds(lambda scheme, value: f"{scheme} {value}",
                      st.sampled_from(["Bearer", "bearer", "Basic", ""]), header_text),
            header_text,
        ),
    },
)


# --- Requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: list[tuple[str, object]] = field(default_factory=list)
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _encoded(pairs: list[tuple[str, object]], token: str) -> str:
    """Percent-encoded as a hostile client may send it: lone surrogates and raw bytes too."""
    pairs = [(name, token if value == VALID_CSRF else value) for name, value in pairs]
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass")


BODY = "(body)"  # the JSON body as a whole: not an object, nested deeply, not JSON at all
ANY = "(any)"  # a route without fields: whatever comes


@st.composite
def fields(draw: st.DrawFn, names: tuple[str, ...], bad: str) -> list[tuple[str, object]]:
    """The fields, each valid except `bad`: hostile, absent or repeated; maybe one unknown."""
    pairs = []
    for name in names:
        if name != bad:
            pairs.append((name, draw(good_value_for(name))))
            continue
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
            pairs.append((name, draw(value_for(name))))
    if bad == ANY or draw(st.integers(0, 4)) == 0:
        pairs.append((draw(texts), draw(hostile)))
    return pairs


@st.composite
def json_body(draw: st.DrawFn, names: tuple[str, ...], bad: str) -> str:
    if bad == BODY:
        return draw(
            st.one_of(
                json_values.map(json.dumps),
                deep_json,
                deep_json.map(lambda deep: '{"item_id": "h1", "user_id": ' + deep + "}"),
                st.text(max_size=50),
            )
        )
    body = {name: draw(good_value_for(name)) for name in names if name != bad}
    if draw(st.sampled_from([True, True, True, False])):
        body[bad] = draw(value_for(bad, json_values))
    return json.dumps(body)


def field_names(endpoint: str) -> list[str]:
    """What one case of the test makes bad: each field of the route in turn."""
    params = ROUTE_PARAMS.get(endpoint, Params())
    names = [*params.path, *params.query, *params.form, *params.json]
    return names + [BODY] if params.json else names or [ANY]


@st.composite
def requests_for(draw: st.DrawFn, rule, bad: str) -> Request:
    params = ROUTE_PARAMS[rule.endpoint]
    unknown = set(rule.arguments) - set(params.path)
    assert not unknown, f"{rule.rule}: no strategy for the path arguments {unknown}"
    path = rule.rule
    for name in rule.arguments:
        raw = draw(value_for(name) if name == bad else good_value_for(name))
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        value = quote(raw, safe="/")
        path = re.sub(rf"<(?:\w+:)?{name}>", lambda _match, value=value: value, path)
    expected = sorted(rule.methods - {"HEAD", "OPTIONS"})
    method = draw(st.sampled_from(expected * 10 + ["HEAD", "OPTIONS", "GET", "POST", "PUT"]))
    query = draw(fields(params.query, bad))
    # A copy: the drawn value is shown as drawn on failure.
    headers = {**draw(other_headers), **draw(access_headers)}
    body: str | list[tuple[str, object]] | None = None
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if params.json:
        body = draw(json_body(params.json, bad))
        content_type = draw(st.sampled_from(["application/json"] * 30 + CONTENT_TYPES))
    elif params.form or draw(st.booleans()):
        body = draw(fields(params.form or ("x",), bad))
        form = "application/x-www-form-urlencoded"
        content_type = draw(st.sampled_from([form] * 30 + CONTENT_TYPES))
    if content_type is not None:
        headers["Content-Type"] = content_type
    return Request(method, path, query, body, headers)


# --- The test ----------------------------------------------------------------------------------


MODES = {
    "open": {},
    # The test client's address is the proxy's, so the identity header reaches the code that
    # reads it; user 3 is signed in, and the other VALID user IDs are other people.
    "trusted-header": {
        "ACCESS_MODE": "trusted-header",
        "TRUSTED_PROXIES": config.SETTINGS["TRUSTED_PROXIES"][1]("127.0.0.1"),
    },
}


@pytest.fixture(scope="module", params=list(MODES))
def fuzzed(request, tmp_path_factory):
    """One app on the small data per access mode, with a session that has a form token."""
    folder = tmp_path_factory.mktemp("fuzz")
    ratings, items = write_small_data(folder)
    settings = {
        "RATINGS_PATH": str(ratings), "ITEMS_PATH": str(items), "SECRET_KEY": "fuzz",
        "API_TOKENS": (("fuzz", access.token_digest(TOKEN)),),
        # The limiter runs on every request, but high enough that requests reach the views.
        **{name: "100000 per minute" for name in access.LIMIT_SETTINGS.values()},
        **MODES[request.param],
    }
    app = create_app(settings, instance_path=str(folder / "instance"))
    client = app.test_client()
    page = client.get("/recommendations?user_id=3", headers={IDENTITY_HEADER: "3"})
    html = page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return app, client, token


def send(client, request: Request, token: str):
    body = request.body
    if isinstance(body, list):
        body = _encoded(body, token)
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    return client.open(
        request.path,
        method=request.method,
        query_string=_encoded(request.query, token),
        data=body,
        headers=request.headers,
    )


def test_every_route_has_a_request_strategy():
    assert set(ENDPOINTS) == set(ROUTE_PARAMS), "add the new route's fields to ROUTE_PARAMS"


CASES = [(endpoint, bad) for endpoint in ENDPOINTS for bad in field_names(endpoint)]


@pytest.mark.parametrize(("endpoint", "bad"), CASES)
def test_no_request_breaks_the_app(fuzzed, endpoint, bad):
    app, client, token = fuzzed
    if endpoint not in ROUTE_PARAMS:
        pytest.fail(f"no request strategy for the route {endpoint!r}")
    rules = list(app.url_map.iter_rules(endpoint))
    store = app.extensions["movies"].store

    @settings(
        max_examples=30,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
        ],
    )
    @given(request=st.sampled_from(rules).flatmap(lambda rule: requests_for(rule, bad)))
    def check(request: Request) -> None:
        stored_before = len(store)

        response = send(client, request, token)

        text = response.get_data(as_text=True)
        assert response.status_code < 500, text[:500]
        assert "Traceback" not in text
        if request.path.startswith("/api/") and request.method not in ("HEAD", "OPTIONS"):
            assert response.mimetype == "application/json"
            assert isinstance(json.loads(text), dict)
        if response.status_code >= 400:
            assert len(store) == stored_before, "a refused request stored a rating"

    check()
