"""Which ratings explain a recommendation, and which rating of a movie counts.

"Because you rated X ★n" names a movie the user liked (★3.5 or more), never one they disliked;
a movie rated again in the app counts with its new rating, not the ratings file's.
"""

from __future__ import annotations

import re

from services import LIKED_RATING

REASON = re.compile(r'<p class="reason">Because you rated ([^<]+) ★([\d.]+)</p>')


def rate(client, user_id: str, item_id: str, stars: float):
    response = client.post(
        "/api/ratings", json={"user_id": user_id, "item_id": item_id, "rating": stars}
    )
    assert response.status_code == 201, response.get_json()


def reasons(client, user_id: str, n: int = 9) -> list[tuple[str, float]]:
    html = client.get(f"/recommendations?user_id={user_id}&n={n}").get_data(as_text=True)
    return [(title, float(stars)) for title, stars in REASON.findall(html)]


def history_stars(client, user_id: str) -> dict[str, str]:
    html = client.get(f"/recommendations?user_id={user_id}").get_data(as_text=True)
    history = html.split('class="history"')[1]
    cards = re.findall(
        r'<h3 class="card-title"><a href="[^"]*">([^<]+)</a>.*?'
        r'<p class="user-rating"[^>]*>★ ([\d.]+)</p>',
        history,
        re.DOTALL,
    )
    return dict(cards)


def test_liking_starts_at_three_and_a_half_stars():
    assert LIKED_RATING == 3.5


def test_explanations_name_only_movies_the_user_liked(client):
    # Two horror films disliked, one comedy loved: the horror films left to recommend are
    # closest to the disliked ones, yet only the loved comedy may explain anything.
    for item_id, stars in (("h1", 1), ("h2", 1), ("c1", 5)):
        rate(client, "mixed", item_id, stars)
    found = reasons(client, "mixed")
    assert found, "the page explains at least one recommendation"
    assert all(stars >= LIKED_RATING for _title, stars in found), found
    assert {title for title, _stars in found} == {"Airplane!"}


def test_a_user_who_liked_nothing_gets_no_explanation(client):
    # Recommendations still come (the ratings say what to avoid), but "because you rated
    # Alien ★1" would praise a film the user disliked.
    for item_id in ("h1", "h2", "c1"):
        rate(client, "grumpy", item_id, 2)
    html = client.get("/recommendations?user_id=grumpy&n=9").get_data(as_text=True)
    assert re.findall(r'<h3 class="card-title">', html.split('class="history"')[0])
    assert "Because you rated" not in html


def test_a_rating_made_in_the_app_replaces_the_files_rating_of_that_movie(client):
    assert history_stars(client, "3")["Alien"] == "4"  # from the ratings file
    rate(client, "3", "h1", 1)
    assert history_stars(client, "3")["Alien"] == "1"


def test_a_rating_of_exactly_three_and_a_half_stars_counts_as_liking(client):
    for item_id, stars in (("h1", 1), ("h2", 1), ("c1", LIKED_RATING)):
        rate(client, "lukewarm", item_id, stars)
    assert set(reasons(client, "lukewarm")) == {("Airplane!", LIKED_RATING)}


def test_ratings_made_after_the_model_was_trained_explain_the_next_list(client):
    # The first request trains the model without this user; their ratings come later, so only
    # the history read on the next request can say which movie they liked.
    assert client.get("/recommendations?user_id=latecomer").status_code == 200
    for item_id, stars in (("h1", 1), ("h2", 1), ("c1", 5)):
        rate(client, "latecomer", item_id, stars)
    assert set(reasons(client, "latecomer")) == {("Airplane!", 5.0)}
