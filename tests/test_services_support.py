"""The throwaway servers of tests/services_support.py: they run, and a missing one is reported."""

from __future__ import annotations

import socket

import psycopg
import pytest

pytest_plugins = ["services_support"]


def test_the_redis_server_answers(redis_url):
    host, port = redis_url.removeprefix("redis://").removesuffix("/0").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(b"SET greeting hello\r\nGET greeting\r\n")
        answer = b""
        while not answer.endswith(b"hello\r\n"):
            answer += connection.recv(64)
    assert answer == b"+OK\r\n$5\r\nhello\r\n"


def test_each_test_gets_an_empty_postgresql_database_that_asks_for_a_password(
    postgres_server, postgres_url
):
    with psycopg.connect(postgres_url) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert tables == (0,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.url(password="wrong"), connect_timeout=5).close()


def test_nothing_listens_on_the_closed_port(closed_port):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port), timeout=5).close()


def test_a_missing_server_skips_here_but_fails_in_ci(monkeypatch):
    # Imported here, once pytest_plugins has loaded it (assert rewriting wants it first).
    import services_support

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        services_support.unavailable("Redis is not installed.")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        services_support.unavailable("Redis is not installed.")


def test_without_postgresql_binaries_the_fixture_says_what_to_install(monkeypatch):
    import services_support

    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(services_support, "postgres_bin_dir", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install postgresql"):
        with services_support.running_postgres():
            pass
