"""Ratings made in the app: durable, per-user, and safe under concurrent writers."""

from __future__ import annotations

import threading

from dataset import Interaction
from store import RatingStore


def test_a_rating_survives_a_new_store_on_the_same_file(tmp_path):
    RatingStore(tmp_path / "ratings.sqlite").add("u1", "Heat (1995)", 5, timestamp=100)
    reopened = RatingStore(tmp_path / "ratings.sqlite")
    assert reopened.for_user("u1") == [Interaction("Heat (1995)", 5.0, 100)]
    assert len(reopened) == 1


def test_rating_again_replaces_the_earlier_rating(tmp_path):
    store = RatingStore(tmp_path / "r.sqlite")
    store.add("u1", "7", 2, timestamp=100)
    store.add("u1", "7", 4, timestamp=200)
    assert store.for_user("u1") == [Interaction("7", 4.0, 200)]


def test_users_are_kept_apart_and_listed_oldest_first(tmp_path):
    store = RatingStore(tmp_path / "r.sqlite")
    store.add("u1", "b", 3, timestamp=200)
    store.add("u1", "a", 5, timestamp=100)
    store.add("u2", "a", 1, timestamp=150)
    assert [event.item_id for event in store.for_user("u1")] == ["a", "b"]
    assert store.for_user("nobody") == []
    assert store.all() == [("u1", "a", 5.0, 100), ("u2", "a", 1.0, 150), ("u1", "b", 3.0, 200)]


def test_concurrent_ratings_from_many_threads_lose_nothing(tmp_path):
    store = RatingStore(tmp_path / "r.sqlite")
    start = threading.Barrier(8)

    def rate(user: int) -> None:
        start.wait(timeout=10)
        for item in range(25):
            store.add(f"user-{user}", f"item-{item}", 1 + item % 5)

    threads = [threading.Thread(target=rate, args=(user,)) for user in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 8 * 25
