"""boto3 clients for Stubber tests, and a fake AWS endpoint on loopback; never the network."""

from __future__ import annotations

import http.server
import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.stub import Stubber

REGION = "us-east-1"
CAMPAIGN = f"arn:aws:personalize:{REGION}:123456789012:campaign/movies"


def fake_client(service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@contextmanager
def stubbed(service: str) -> Iterator[tuple[Any, Stubber]]:
    """A client and its active Stubber; every queued response must have been used."""
    client = fake_client(service)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


# --- A fake AWS endpoint on loopback, for answers Stubber cannot give ---------------------------


@dataclass
class Answer:
    """What the fake endpoint does with a request."""

    status: int = 200
    body: bytes = b'{"itemList": [], "recommendationId": "RID-1"}'
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds of silence before answering: a hang when above the read timeout
    drop: str = ""  # "reset" (RST) or "close" (FIN) the connection instead of answering


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeEndpoint

    def do_POST(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((self.path, json.loads(body or b"{}")))
        answer = self.server.answer
        if answer.delay and self.server.stopping.wait(answer.delay):
            return
        if answer.drop:
            self.close_connection = True
            if answer.drop == "reset":  # linger 0: close() sends a RST
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.connection.close()
            return
        self.send_response(answer.status)
        for name, value in {"Content-Type": answer.content_type, **answer.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass  # keep test output quiet


class FakeEndpoint(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that gives every request `answer` and records the requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = Answer()
        self.requests: list[tuple[str, dict]] = []
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (read timeout) leaves a broken pipe behind: expected here


@contextmanager
def fake_endpoint() -> Iterator[FakeEndpoint]:
    """A running FakeEndpoint, stopped (and any delayed answer cut short) on exit."""
    server = FakeEndpoint()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def unreachable_port() -> Iterator[int]:
    """A port on 127.0.0.1 where a connection attempt hangs until the client's connect timeout.

    The listener's backlog (0) is taken by one connection it never accepts, so the kernel
    leaves later SYNs unanswered, as a firewall that drops packets would.
    """
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield listener.getsockname()[1]


def use_fake_aws(monkeypatch: Any, *, runtime_url: str = "", events_url: str = "") -> None:
    """Point the app's own boto3 clients at loopback, with dummy credentials and no profile."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                 "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    if runtime_url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME", runtime_url)
    if events_url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", events_url)
