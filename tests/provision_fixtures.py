"""The fixtures of the tests/test_provision_*.py files, which load them as a pytest plugin.

`cloud` gives moto's S3, IAM and STS with a Stubber-ed Personalize client (see
provision_support.py for why), `cli` runs `flask personalize …` against it, `ratings` and
`items` are small data files that pass Personalize's rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from flask import Flask
from moto import mock_aws
from provision_support import (
    REGION,
    CallLog,
    CallRecorder,
    Cli,
    Cloud,
    FakeTime,
    Personalize,
    client,
)

from provisioning import personalize_cli
from provisioning.cli import EXTENSION_KEY, ProvisioningHooks
from provisioning.resources import AwsClients


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials so no test can reach a real account."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def cloud(aws_credentials: None) -> Any:
    with mock_aws():
        s3, iam, sts = (CallLog(client(name))
                        for name in ("s3", "iam", "sts"))
        personalize = client("personalize")
        with Stubber(personalize) as stubber:
            yield Cloud(AwsClients(s3=s3, iam=iam, sts=sts, personalize=personalize),
                        s3, iam, sts, stubber, Personalize(stubber), FakeTime())


@pytest.fixture
def recorder(cloud: Cloud) -> CallRecorder:
    """Records the calls made through every client of `cloud`, inside `recording()`."""
    recorder = CallRecorder()
    recorder.attach(*(getattr(cloud.clients, name) for name in ("s3", "iam", "sts",
                                                               "personalize")))
    return recorder


@pytest.fixture
def moto_clients(aws_credentials: None) -> Any:
    """Plain moto clients, Personalize included (its schema calls only)."""
    with mock_aws():
        yield AwsClients(*(client(name)
                           for name in ("s3", "iam", "sts", "personalize")))


@pytest.fixture
def cli(cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)  # the default .env is the working directory's
    # Its own instance folder: `metrics` keeps its figures there, never in the project.
    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    regions: list[str | None] = []

    def clients(region: str | None) -> AwsClients:
        regions.append(region)
        return cloud.clients

    app.extensions[EXTENSION_KEY] = ProvisioningHooks(
        clients=clients, sleep=cloud.time.sleep, clock=cloud.time.clock)
    app.cli.add_command(personalize_cli)
    return Cli(app, regions)


@pytest.fixture
def ratings(tmp_path: Path) -> Path:
    """1,250 ratings: 50 users x 25 movies, ratings 1-5 in equal shares."""
    path = tmp_path / "ratings.csv"
    lines = ["USER_ID,ITEM_ID,RATING,TIMESTAMP"]
    for user in range(1, 51):
        for item in range(1, 26):
            lines.append(f"u{user},m{item},{(user + item) % 5 + 1}.0,{1_600_000_000 + item}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def items(tmp_path: Path) -> Path:
    path = tmp_path / "items.csv"
    path.write_text("ITEM_ID,TITLE,YEAR,GENRES\n"
                    "m1,Heat,1995,Action|Crime\n"
                    "m2,\"Matrix, The\",1999,Sci-Fi\n"
                    "m3,Untitled,,(no genres listed)\n", encoding="utf-8")
    return path
