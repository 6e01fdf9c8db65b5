"""boto3 clients for Stubber tests: real service models, dummy credentials, no network."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
