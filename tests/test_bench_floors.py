"""The benches' floors (bench/_bare_app.py) do what the README says they do: the unrendered
results page does all the page's work but render it."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _bare_app import unrendered  # noqa: E402 - needs the path above

SAVED = "<!doctype html><title>Saved</title><p>The results page, saved.</p>"


@pytest.fixture
def floor(make_app, tmp_path):
    (tmp_path / "page-10.html").write_text(SAVED)
    app = make_app({"RATE_LIMIT_READS": "3/minute"})
    app.jinja_env.get_template("results.html")  # compiled and cached first, as wsgi.py does
    return unrendered(app, str(tmp_path))


def test_the_unrendered_page_sends_the_saved_page_and_makes_the_form_token(floor):
    response = floor.test_client().get("/recommendations?user_id=1&n=10")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == SAVED
    assert "session=" in response.headers["Set-Cookie"]  # the forms' token, in a new session


def test_the_unrendered_page_still_checks_input_and_the_read_limit(floor):
    client = floor.test_client()
    assert client.get("/recommendations?user_id=1&n=abc").status_code == 400
    statuses = [client.get("/recommendations?user_id=1&n=10").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_the_unrendered_page_still_ranks_for_the_user(floor, monkeypatch):
    import services

    asked = []
    real = services.Services.recommend
    monkeypatch.setattr(services.Services, "recommend",
                        lambda self, user_id, n, **options: asked.append((user_id, n))
                        or real(self, user_id, n, **options))
    floor.test_client().get("/recommendations?user_id=1&n=10")
    assert asked == [("1", 10)]


def test_other_pages_render_as_before(floor):
    response = floor.test_client().get("/movies?item_id=h1")
    assert response.status_code == 200 and b'class="card' in response.data
