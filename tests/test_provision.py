"""provision.py: `flask personalize deploy|status|teardown|metrics`, offline.

moto implements S3, IAM, STS and Personalize's schema calls; every other Personalize call raises
NotImplementedError under moto. A botocore Stubber intercepts *every* call on the client it
stubs, so one Personalize client cannot be half moto and half Stubber. Hence:
- the command tests use moto for S3/IAM/STS and a Stubber-ed Personalize client on which the
  schema calls are stubbed too (with their parameters checked, like every other call);
- separate tests run the schema steps against moto's real schema implementation.
The Stubber's queue is strictly FIFO, so the `expect_*` helpers below enqueue each step's calls
in the order the code makes them; an out-of-order or unexpected call fails the test.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import types
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from flask import Flask
from moto import mock_aws

from provision import (
    CAMPAIGN,
    DATASET,
    DATASET_GROUP,
    EXTENSION_KEY,
    IAM_PROPAGATION_DELAY,
    AwsClients,
    Inventory,
    Provisioner,
    ProvisionError,
    ProvisioningHooks,
    Resource,
    ResourceNames,
    StatusLine,
    boto3_clients,
    format_elapsed,
    personalize_cli,
    prepare_interactions,
    prepare_items,
    update_env_file,
)

REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's account
PREFIX = "movie-recs"
BUCKET = f"{PREFIX}-{ACCOUNT}-{REGION}"
ROLE = f"{PREFIX}-personalize-{REGION}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T1 = datetime(2024, 2, 1, tzinfo=timezone.utc)


def arn(resource: str) -> str:
    return f"arn:aws:personalize:{REGION}:{ACCOUNT}:{resource}"


GROUP_ARN = arn(f"dataset-group/{PREFIX}")
SCHEMA_ARN = arn(f"schema/{PREFIX}-interactions")
ITEMS_SCHEMA_ARN = arn(f"schema/{PREFIX}-items")
DATASET_ARN = arn(f"dataset/{PREFIX}/INTERACTIONS")
ITEMS_DATASET_ARN = arn(f"dataset/{PREFIX}/ITEMS")
IMPORT_ARN = arn(f"dataset-import-job/{PREFIX}-interactions-import-1")
ITEMS_IMPORT_ARN = arn(f"dataset-import-job/{PREFIX}-items-import-1")
SOLUTION_ARN = arn(f"solution/{PREFIX}-personalized")
VERSION_ARN = f"{SOLUTION_ARN}/a1b2c3d4"
SIMS_ARN = arn(f"solution/{PREFIX}-sims")
SIMS_VERSION_ARN = f"{SIMS_ARN}/e5f6a7b8"
CAMPAIGN_ARN = arn(f"campaign/{PREFIX}-personalized")
SIMS_CAMPAIGN_ARN = arn(f"campaign/{PREFIX}-sims")
TRACKER_ARN = arn("event-tracker/0f1e2d3c")
TRACKING_ID = "6f2c1a7e-tracking-id"
USER_PERSONALIZATION_V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
SIMS_RECIPE = "arn:aws:personalize:::recipe/aws-sims"

INTERACTIONS_AVRO = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
ITEMS_AVRO = {
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "YEAR", "type": ["null", "int"]},
    ],
    "version": "1.0",
}
WRITES = ("create_", "put_", "delete_", "upload_", "attach_", "detach_", "update_", "tag_")
# One session for every test client: it loads each service model once, which keeps tests fast.
# Its credentials are resolved on first use, inside the aws_credentials fixture (dummies).
SESSION = boto3.session.Session()


def client(service: str, region: str = REGION) -> Any:
    return SESSION.client(service, region_name=region)


# --- Test doubles and fixtures ----------------------------------------------------------


class FakeTime:
    """Stands in for time.sleep and time.monotonic: sleeping advances the clock, instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


class CallLog:
    """A boto3 client that records the names of the methods called on it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return recorded

    def writes(self) -> list[str]:
        return [name for name in self.calls if name.startswith(WRITES)]


class SameJson:
    """Equals a JSON string that decodes to `expected` (key order and spacing aside)."""

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and json.loads(other) == self.expected

    def __repr__(self) -> str:
        return f"SameJson({self.expected!r})"


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word.title() for word in rest)


class Personalize:
    """Enqueues expected Personalize calls with their parameters and responses."""

    def __init__(self, stubber: Stubber) -> None:
        self.stubber = stubber

    def call(self, method: str, params: dict[str, Any], response: dict | None = None) -> None:
        self.stubber.add_response(method, response or {}, params)

    def fail(self, method: str, params: dict[str, Any], code: str, message: str = "",
             status: int = 400) -> None:
        self.stubber.add_client_error(method, service_error_code=code, service_message=message,
                                      http_status_code=status, expected_params=params)

    def lists(self, method: str, key: str, items: list[dict], **params: str) -> None:
        self.call(method, params, {key: items})

    def describes(self, api: str, resource_arn: str, *statuses: str, **fields: Any) -> None:
        """One describe_<api> per status, as successive polls see them."""
        for status in statuses:
            self.call(f"describe_{api}", {f"{camel(api)}Arn": resource_arn},
                      {camel(api): {f"{camel(api)}Arn": resource_arn, "status": status, **fields}})

    def gone(self, api: str, resource_arn: str) -> None:
        self.fail(f"describe_{api}", {f"{camel(api)}Arn": resource_arn},
                  "ResourceNotFoundException", "not found", 404)


def summary(api: str, resource_arn: str, status: str = "ACTIVE", when: datetime = T0,
            **fields: Any) -> dict[str, Any]:
    return {f"{camel(api)}Arn": resource_arn, "status": status, "creationDateTime": when,
            **fields}


@dataclass
class Cloud:
    clients: AwsClients
    s3: CallLog
    iam: CallLog
    sts: CallLog
    stubber: Stubber
    personalize: Personalize
    time: FakeTime


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
def moto_clients(aws_credentials: None) -> Any:
    """Plain moto clients, Personalize included (its schema calls only)."""
    with mock_aws():
        yield AwsClients(*(client(name)
                           for name in ("s3", "iam", "sts", "personalize")))


@dataclass
class Cli:
    app: Flask
    regions: list[str | None]

    def __call__(self, *args: str, input: str | None = None) -> Any:
        return self.app.test_cli_runner().invoke(args=["personalize", *args], input=input)


@pytest.fixture
def cli(cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)  # the default .env is the working directory's
    app = Flask(__name__)
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


def quiet_provisioner(cloud: Cloud) -> Provisioner:
    return Provisioner(cloud.clients, sleep=cloud.time.sleep, clock=cloud.time.clock,
                       echo=lambda *args, **kwargs: None)


def make_bucket_and_role(cloud: Cloud) -> None:
    """What deploy leaves in S3 and IAM: a versioned bucket with data, a role with policies."""
    s3, iam = cloud.s3, cloud.iam
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=b"v1")
    s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=b"v2")
    s3.delete_object(Bucket=BUCKET, Key="interactions.csv")  # leaves a delete marker
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    iam.put_role_policy(RoleName=ROLE, PolicyName="read-training-bucket", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                 "Resource": "*"}]}))
    managed = iam.create_policy(PolicyName="extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                 "Resource": "*"}]}))
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=managed["Policy"]["Arn"])
    s3.calls.clear()
    iam.calls.clear()


def read_object(cloud: Cloud, key: str) -> list[list[str]]:
    body = cloud.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


# --- Expected call sequences, one helper per deploy step --------------------------------


def expect_new_dataset_group(p: Personalize) -> None:
    p.lists("list_dataset_groups", "datasetGroups", [])
    p.call("create_dataset_group", {"name": PREFIX}, {"datasetGroupArn": GROUP_ARN})
    p.describes("dataset_group", GROUP_ARN, "CREATE PENDING", "ACTIVE", name=PREFIX)


def expect_new_dataset(p: Personalize, dataset_type: str, avro: dict, schema_arn: str,
                       dataset_arn: str) -> None:
    p.lists("list_schemas", "schemas", [])
    p.call("create_schema", {"name": f"{PREFIX}-{dataset_type}", "schema": SameJson(avro)},
           {"schemaArn": schema_arn})
    p.lists("list_datasets", "datasets", [], datasetGroupArn=GROUP_ARN)
    p.call("create_dataset", {"name": f"{PREFIX}-{dataset_type}", "schemaArn": schema_arn,
                              "datasetGroupArn": GROUP_ARN, "datasetType": dataset_type.title()},
           {"datasetArn": dataset_arn})
    p.describes("dataset", dataset_arn, "ACTIVE")


def import_params(dataset_type: str, dataset_arn: str, attempt: int = 1) -> dict[str, Any]:
    return {"jobName": f"{PREFIX}-{dataset_type}-import-{attempt}", "datasetArn": dataset_arn,
            "dataSource": {"dataLocation": f"s3://{BUCKET}/{dataset_type}.csv"},
            "roleArn": ROLE_ARN, "importMode": "FULL"}


def expect_new_import(p: Personalize, dataset_type: str, dataset_arn: str, job_arn: str,
                      propagation_errors: int = 0) -> None:
    p.lists("list_dataset_import_jobs", "datasetImportJobs", [], datasetArn=dataset_arn)
    params = import_params(dataset_type, dataset_arn)
    for _ in range(propagation_errors):
        p.fail("create_dataset_import_job", params, "InvalidInputException",
               "Insufficient privileges for accessing data in S3; check the role's permissions")
    p.call("create_dataset_import_job", params, {"datasetImportJobArn": job_arn})


def expect_new_solution(p: Personalize, purpose: str, recipe: str, solution_arn: str,
                        existing: list[dict] | None = None) -> None:
    p.lists("list_solutions", "solutions", existing or [], datasetGroupArn=GROUP_ARN)
    p.call("create_solution", {"name": f"{PREFIX}-{purpose}", "datasetGroupArn": GROUP_ARN,
                               "recipeArn": recipe, "performAutoTraining": False},
           {"solutionArn": solution_arn})
    p.describes("solution", solution_arn, "ACTIVE")


def expect_new_version(p: Personalize, solution_arn: str, version_arn: str,
                       existing: list[dict] | None = None) -> None:
    p.lists("list_solution_versions", "solutionVersions", existing or [],
            solutionArn=solution_arn)
    p.call("create_solution_version", {"solutionArn": solution_arn, "trainingMode": "FULL"},
           {"solutionVersionArn": version_arn})


def expect_new_campaign(p: Personalize, purpose: str, solution_arn: str, version_arn: str,
                        campaign_arn: str) -> None:
    p.lists("list_campaigns", "campaigns", [], solutionArn=solution_arn)
    p.call("create_campaign", {"name": f"{PREFIX}-{purpose}", "solutionVersionArn": version_arn,
                               "minProvisionedTPS": 1}, {"campaignArn": campaign_arn})


def expect_existing_up_to_import(p: Personalize) -> None:
    """A dataset group whose interactions are already imported."""
    p.lists("list_dataset_groups", "datasetGroups",
            [summary("dataset_group", GROUP_ARN, name=PREFIX)])
    p.lists("list_schemas", "schemas",
            [{"name": f"{PREFIX}-interactions", "schemaArn": SCHEMA_ARN}])
    p.lists("list_datasets", "datasets",
            [summary("dataset", DATASET_ARN, name=f"{PREFIX}-interactions")],
            datasetGroupArn=GROUP_ARN)
    p.lists("list_dataset_import_jobs", "datasetImportJobs",
            [summary("dataset_import_job", IMPORT_ARN, jobName=f"{PREFIX}-interactions-import-1")],
            datasetArn=DATASET_ARN)


def expect_training_and_campaign(p: Personalize, recipe: str = USER_PERSONALIZATION_V2) -> None:
    expect_new_solution(p, "personalized", recipe, SOLUTION_ARN)
    expect_new_version(p, SOLUTION_ARN, VERSION_ARN)
    p.describes("solution_version", VERSION_ARN, "CREATE IN_PROGRESS", "ACTIVE")
    expect_new_campaign(p, "personalized", SOLUTION_ARN, VERSION_ARN, CAMPAIGN_ARN)
    p.describes("campaign", CAMPAIGN_ARN, "CREATE IN_PROGRESS", "ACTIVE")


# --- deploy -----------------------------------------------------------------------------


def test_help_lists_the_commands(cli: Cli) -> None:
    result = cli("--help")

    assert result.exit_code == 0
    for command in ("deploy", "status", "teardown", "metrics"):
        assert command in result.output


def test_full_deploy_on_an_empty_account(cli: Cli, cloud: Cloud, ratings: Path,
                                         items: Path) -> None:
    p = cloud.personalize
    expect_new_dataset_group(p)
    expect_new_dataset(p, "interactions", INTERACTIONS_AVRO, SCHEMA_ARN, DATASET_ARN)
    expect_new_dataset(p, "items", ITEMS_AVRO, ITEMS_SCHEMA_ARN, ITEMS_DATASET_ARN)
    # The new role is not usable at once: the first import request is refused, then retried.
    expect_new_import(p, "interactions", DATASET_ARN, IMPORT_ARN, propagation_errors=1)
    expect_new_import(p, "items", ITEMS_DATASET_ARN, ITEMS_IMPORT_ARN)
    p.describes("dataset_import_job", IMPORT_ARN, "CREATE IN_PROGRESS", "ACTIVE")
    p.describes("dataset_import_job", ITEMS_IMPORT_ARN, "ACTIVE")
    expect_new_solution(p, "personalized", USER_PERSONALIZATION_V2, SOLUTION_ARN)
    expect_new_solution(p, "sims", SIMS_RECIPE, SIMS_ARN, existing=[
        summary("solution", SOLUTION_ARN, name=f"{PREFIX}-personalized",
                recipeArn=USER_PERSONALIZATION_V2)])
    expect_new_version(p, SOLUTION_ARN, VERSION_ARN)
    expect_new_version(p, SIMS_ARN, SIMS_VERSION_ARN)
    p.describes("solution_version", VERSION_ARN, "CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    p.describes("solution_version", SIMS_VERSION_ARN, "ACTIVE")
    expect_new_campaign(p, "personalized", SOLUTION_ARN, VERSION_ARN, CAMPAIGN_ARN)
    expect_new_campaign(p, "sims", SIMS_ARN, SIMS_VERSION_ARN, SIMS_CAMPAIGN_ARN)
    p.describes("campaign", CAMPAIGN_ARN, "ACTIVE")
    p.describes("campaign", SIMS_CAMPAIGN_ARN, "ACTIVE")
    p.lists("list_event_trackers", "eventTrackers", [], datasetGroupArn=GROUP_ARN)
    p.call("create_event_tracker", {"name": f"{PREFIX}-events", "datasetGroupArn": GROUP_ARN},
           {"eventTrackerArn": TRACKER_ARN, "trackingId": TRACKING_ID})
    p.describes("event_tracker", TRACKER_ARN, "CREATE PENDING", "ACTIVE", trackingId=TRACKING_ID)

    result = cli("deploy", "--ratings", str(ratings), "--items", str(items), "--with-sims",
                 "--event-tracker", "--region", REGION)

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    assert cli.regions == [REGION]
    assert IAM_PROPAGATION_DELAY in cloud.time.sleeps
    assert f"solution version of {PREFIX}-personalized (created): ACTIVE, 2m 00s" in result.output
    assert f"personalize teardown --name {PREFIX} --region {REGION}" in result.output
    assert (Path(".env").read_text(encoding="utf-8").splitlines() == [
        f"PERSONALIZE_CAMPAIGN_ARN={CAMPAIGN_ARN}", f"AWS_REGION={REGION}",
        f"PERSONALIZE_SIMS_CAMPAIGN_ARN={SIMS_CAMPAIGN_ARN}",
        f"PERSONALIZE_TRACKING_ID={TRACKING_ID}"])


def test_deploy_creates_a_private_bucket_readable_only_by_personalize(
        cli: Cli, cloud: Cloud, ratings: Path, items: Path) -> None:
    p = cloud.personalize
    expect_new_dataset_group(p)
    expect_new_dataset(p, "interactions", INTERACTIONS_AVRO, SCHEMA_ARN, DATASET_ARN)
    expect_new_import(p, "interactions", DATASET_ARN, IMPORT_ARN)
    p.describes("dataset_import_job", IMPORT_ARN, "ACTIVE")
    expect_training_and_campaign(p)

    result = cli("deploy", "--ratings", str(ratings), "--min-rating", "2")

    assert result.exit_code == 0, result.output
    s3 = cloud.s3
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == REGION
    assert all(s3.get_public_access_block(Bucket=BUCKET)
               ["PublicAccessBlockConfiguration"].values())
    statement = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert statement["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert statement["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    uploaded = read_object(cloud, "interactions.csv")
    assert uploaded[0] == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    assert uploaded[1] == ["u1", "m1", "rating", "3.0", "1600000001"]
    assert len(uploaded) - 1 == 1000  # ratings of 1 (a fifth of 1,250) are left out
    assert all(float(row[3]) >= 2 for row in uploaded[1:])


def test_deploy_creates_a_role_only_personalize_of_this_account_can_assume(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    p = cloud.personalize
    expect_new_dataset_group(p)
    expect_new_dataset(p, "interactions", INTERACTIONS_AVRO, SCHEMA_ARN, DATASET_ARN)
    expect_new_import(p, "interactions", DATASET_ARN, IMPORT_ARN)
    p.describes("dataset_import_job", IMPORT_ARN, "ACTIVE")
    expect_training_and_campaign(p)

    assert cli("deploy", "--ratings", str(ratings)).exit_code == 0

    trust = cloud.iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": ["personalize.amazonaws.com"]},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                      "ArnLike": {"aws:SourceArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:*"}},
    }]
    inline = cloud.iam.get_role_policy(RoleName=ROLE, PolicyName="read-training-bucket")
    assert inline["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]
    assert cloud.iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []


def test_deploy_resumes_after_a_failure_halfway(cli: Cli, cloud: Cloud, ratings: Path) -> None:
    p = cloud.personalize
    expect_new_dataset_group(p)
    expect_new_dataset(p, "interactions", INTERACTIONS_AVRO, SCHEMA_ARN, DATASET_ARN)
    expect_new_import(p, "interactions", DATASET_ARN, IMPORT_ARN)
    p.describes("dataset_import_job", IMPORT_ARN, "ACTIVE")
    p.lists("list_solutions", "solutions", [], datasetGroupArn=GROUP_ARN)
    p.fail("create_solution", {"name": f"{PREFIX}-personalized", "datasetGroupArn": GROUP_ARN,
                               "recipeArn": USER_PERSONALIZATION_V2, "performAutoTraining": False},
           "LimitExceededException", "You have reached the limit of 10 active solutions")
    first = cli("deploy", "--ratings", str(ratings))
    assert first.exit_code == 1
    assert "LimitExceededException" in first.output
    assert not Path(".env").exists()
    cloud.stubber.assert_no_pending_responses()
    cloud.s3.calls.clear()
    cloud.iam.calls.clear()

    # The second run finds everything made before the failure (no create_* for it) and goes on.
    expect_existing_up_to_import(p)
    expect_training_and_campaign(p)
    second = cli("deploy", "--ratings", str(ratings))

    assert second.exit_code == 0, second.output
    cloud.stubber.assert_no_pending_responses()
    assert "create_bucket" not in cloud.s3.calls
    assert "upload_file" not in cloud.s3.calls  # the same bytes are already there
    assert "create_role" not in cloud.iam.calls
    assert f"dataset group {PREFIX} (exists): ACTIVE" in second.output
    assert f"import job {PREFIX}-interactions-import-1 (exists): ACTIVE" in second.output
    assert f"campaign {PREFIX}-personalized (created): ACTIVE" in second.output
    assert f"PERSONALIZE_CAMPAIGN_ARN={CAMPAIGN_ARN}" in Path(".env").read_text(encoding="utf-8")


def test_create_failed_prints_the_reason_and_exits_non_zero(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    p = cloud.personalize
    expect_new_dataset_group(p)
    expect_new_dataset(p, "interactions", INTERACTIONS_AVRO, SCHEMA_ARN, DATASET_ARN)
    expect_new_import(p, "interactions", DATASET_ARN, IMPORT_ARN)
    p.describes("dataset_import_job", IMPORT_ARN, "CREATE IN_PROGRESS", "CREATE FAILED",
                failureReason="Insufficient privileges for accessing data in S3.")

    result = cli("deploy", "--ratings", str(ratings))

    assert result.exit_code == 1
    assert (f"import job {PREFIX}-interactions-import-1 CREATE FAILED: Insufficient privileges "
            "for accessing data in S3.") in result.output
    assert "run deploy again; it starts a new one" in result.output
    cloud.stubber.assert_no_pending_responses()
    assert not Path(".env").exists()


def test_a_rerun_replaces_a_failed_import_instead_of_reusing_it(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    p = cloud.personalize
    p.lists("list_dataset_groups", "datasetGroups",
            [summary("dataset_group", GROUP_ARN, name=PREFIX)])
    p.lists("list_schemas", "schemas",
            [{"name": f"{PREFIX}-interactions", "schemaArn": SCHEMA_ARN}])
    p.lists("list_datasets", "datasets",
            [summary("dataset", DATASET_ARN, name=f"{PREFIX}-interactions")],
            datasetGroupArn=GROUP_ARN)
    p.lists("list_dataset_import_jobs", "datasetImportJobs", [summary(
        "dataset_import_job", IMPORT_ARN, "CREATE FAILED",
        jobName=f"{PREFIX}-interactions-import-1", failureReason="Insufficient privileges")],
        datasetArn=DATASET_ARN)
    second_job = arn(f"dataset-import-job/{PREFIX}-interactions-import-2")
    p.call("create_dataset_import_job", import_params("interactions", DATASET_ARN, attempt=2),
           {"datasetImportJobArn": second_job})
    p.describes("dataset_import_job", second_job, "ACTIVE")
    expect_training_and_campaign(p)

    result = cli("deploy", "--ratings", str(ratings))

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    assert "the last import of interactions ended CREATE FAILED" in result.output


def test_a_campaign_that_failed_before_points_to_teardown(cloud: Cloud) -> None:
    p = cloud.personalize
    p.describes("campaign", CAMPAIGN_ARN, "CREATE FAILED", failureReason="Quota exceeded")
    failed = Resource(CAMPAIGN, f"{PREFIX}-personalized", CAMPAIGN_ARN, "CREATE FAILED")

    with pytest.raises(ProvisionError, match="Quota exceeded") as raised:
        quiet_provisioner(cloud).settle(failed)

    assert "personalize teardown" in str(raised.value)


def test_waiting_gives_up_after_the_step_timeout(cloud: Cloud) -> None:
    polls = int(DATASET_GROUP.timeout_seconds // DATASET_GROUP.poll_seconds) + 1
    cloud.personalize.describes("dataset_group", GROUP_ARN, *["CREATE IN_PROGRESS"] * polls)

    with pytest.raises(ProvisionError, match="Gave up waiting for dataset group movie-recs "
                                             "after 30m 00s; it is still CREATE IN_PROGRESS"):
        quiet_provisioner(cloud).settle(
            Resource(DATASET_GROUP, PREFIX, GROUP_ARN, "CREATE IN_PROGRESS"))
    cloud.stubber.assert_no_pending_responses()


def test_recipe_option_picks_the_recipe_of_the_main_solution(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    expect_existing_up_to_import(cloud.personalize)
    expect_training_and_campaign(cloud.personalize,
                                 recipe="arn:aws:personalize:::recipe/aws-popularity-count")

    result = cli("deploy", "--ratings", str(ratings), "--recipe", "popularity-count")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()


def test_a_solution_with_another_recipe_is_not_reused(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    expect_existing_up_to_import(cloud.personalize)
    cloud.personalize.lists("list_solutions", "solutions", [summary(
        "solution", SOLUTION_ARN, name=f"{PREFIX}-personalized",
        recipeArn=USER_PERSONALIZATION_V2)], datasetGroupArn=GROUP_ARN)

    result = cli("deploy", "--ratings", str(ratings), "--recipe", "popularity-count")

    assert result.exit_code == 1
    assert f"solution {PREFIX}-personalized exists with recipe {USER_PERSONALIZATION_V2}" \
        in result.output
    cloud.stubber.assert_no_pending_responses()


def test_import_retries_while_the_new_role_propagates_then_gives_up(cloud: Cloud) -> None:
    p = cloud.personalize
    p.lists("list_dataset_import_jobs", "datasetImportJobs", [], datasetArn=DATASET_ARN)
    attempts = 6
    for _ in range(attempts):
        p.fail("create_dataset_import_job", import_params("interactions", DATASET_ARN),
               "InvalidInputException", "Insufficient privileges for accessing data in S3")
    dataset = Resource(DATASET, f"{PREFIX}-interactions", DATASET_ARN)

    with pytest.raises(ClientError, match="Insufficient privileges"):
        quiet_provisioner(cloud).start_import(
            ResourceNames(PREFIX, ACCOUNT, REGION), dataset, "interactions", ROLE_ARN)

    assert cloud.time.sleeps == [IAM_PROPAGATION_DELAY] * (attempts - 1)
    cloud.stubber.assert_no_pending_responses()


def test_other_import_errors_are_not_retried(cloud: Cloud) -> None:
    p = cloud.personalize
    p.lists("list_dataset_import_jobs", "datasetImportJobs", [], datasetArn=DATASET_ARN)
    p.fail("create_dataset_import_job", import_params("interactions", DATASET_ARN),
           "InvalidInputException", "Input CSV is missing the following columns: [TIMESTAMP]")
    dataset = Resource(DATASET, f"{PREFIX}-interactions", DATASET_ARN)

    with pytest.raises(ClientError, match="missing the following columns"):
        quiet_provisioner(cloud).start_import(
            ResourceNames(PREFIX, ACCOUNT, REGION), dataset, "interactions", ROLE_ARN)

    assert cloud.time.sleeps == []


def test_status_line_rewrites_itself_on_a_terminal() -> None:
    printed: list[tuple[str, bool]] = []
    line = StatusLine(lambda text="", nl=True: printed.append((text, nl)), True, "  campaign c")

    line.update("CREATE PENDING", 0)
    line.update("ACTIVE", 75)
    line.close()

    first = "  campaign c: CREATE PENDING, 0s"
    assert printed == [("\r" + first, False),
                       ("\r" + "  campaign c: ACTIVE, 1m 15s".ljust(len(first)), False),
                       ("", True)]


@pytest.mark.parametrize(("seconds", "text"), [(9.7, "9s"), (125, "2m 05s"), (3720, "1h 02m")])
def test_elapsed_time_reads_naturally(seconds: float, text: str) -> None:
    assert format_elapsed(seconds) == text


def test_dry_run_on_an_empty_account_plans_everything_and_changes_nothing(
        cli: Cli, cloud: Cloud, ratings: Path, items: Path) -> None:
    # Only read responses are queued: any other Personalize call would fail the test.
    p = cloud.personalize
    p.lists("list_dataset_groups", "datasetGroups", [])
    p.lists("list_schemas", "schemas", [])
    p.lists("list_schemas", "schemas", [])

    result = cli("deploy", "--ratings", str(ratings), "--items", str(items), "--with-sims",
                 "--event-tracker", "--dry-run")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    assert cloud.s3.writes() == [] and cloud.iam.writes() == []
    assert cloud.s3.list_buckets()["Buckets"] == []
    assert cloud.iam.list_roles()["Roles"] == []
    assert not Path(".env").exists()
    for line in (f"S3 bucket {BUCKET}: will be created (private)",
                 f"s3://{BUCKET}/interactions.csv: will be uploaded (1,250 rows)",
                 f"s3://{BUCKET}/items.csv: will be uploaded (3 rows)",
                 f"IAM role {ROLE}: will be created (reads {BUCKET} only)",
                 f"dataset group {PREFIX}: will be created",
                 f"schema {PREFIX}-items: will be created",
                 f"dataset {PREFIX}-items: will be created",
                 f"import job {PREFIX}-interactions-import-1: will be created",
                 f"solution version of {PREFIX}-sims: will be created",
                 f"campaign {PREFIX}-sims: will be created",
                 f"event tracker {PREFIX}-events: will be created",
                 "Cost: campaigns will bill every hour"):
        assert line in result.output


def test_dry_run_on_a_half_deployed_account_changes_nothing(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    make_bucket_and_role(cloud)
    expect_existing_up_to_import(cloud.personalize)
    cloud.personalize.lists("list_solutions", "solutions", [], datasetGroupArn=GROUP_ARN)

    result = cli("deploy", "--ratings", str(ratings), "--dry-run")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    assert cloud.s3.writes() == [] and cloud.iam.writes() == []  # not even the policies
    assert not Path(".env").exists()
    for line in (f"S3 bucket {BUCKET}: exists",
                 f"s3://{BUCKET}/interactions.csv: will be uploaded (1,250 rows)",
                 f"IAM role {ROLE}: exists",
                 f"dataset group {PREFIX}: exists, ACTIVE",
                 f"schema {PREFIX}-interactions: exists",
                 f"import job {PREFIX}-interactions-import-1: exists, ACTIVE",
                 f"solution {PREFIX}-personalized: will be created",
                 f"campaign {PREFIX}-personalized: will be created"):
        assert line in result.output


def test_deploy_refuses_a_file_that_would_fail_the_import(
        cli: Cli, cloud: Cloud, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("USER_ID,ITEM_ID,RATING,TIMESTAMP\nu1,m1,4.0,1600000000\nu1,m2,5.0,soon\n",
                   encoding="utf-8")

    result = cli("deploy", "--ratings", str(bad))

    assert result.exit_code == 1
    assert "would fail the Personalize import" in result.output
    assert "line 3: TIMESTAMP 'soon' is not an integer" in result.output
    assert cloud.sts.calls == [] and cloud.s3.calls == []  # refused before any AWS call


def test_deploy_reports_a_missing_ratings_file(cli: Cli, cloud: Cloud) -> None:
    result = cli("deploy", "--ratings", "nowhere.csv")

    assert result.exit_code == 1
    assert "nowhere.csv not found" in result.output


def test_deploy_rejects_a_prefix_unfit_for_a_bucket_name(cli: Cli) -> None:
    result = cli("deploy", "--name", "My_Recs")

    assert result.exit_code == 2
    assert "lower-case letters" in result.output


def test_the_region_comes_from_aws_region_when_not_given(
        cli: Cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    cloud.personalize.lists("list_dataset_groups", "datasetGroups", [])
    cloud.personalize.lists("list_schemas", "schemas", [])

    assert cli("status").exit_code == 0
    assert cli.regions == ["eu-west-1"]


# --- data preparation -------------------------------------------------------------------


def test_prepare_interactions_keeps_ratings_at_or_above_min_rating(
        ratings: Path, tmp_path: Path) -> None:
    prepared = prepare_interactions(ratings, tmp_path / "out.csv", min_rating=2)

    rows = list(csv.reader(open(prepared.path, encoding="utf-8")))
    assert prepared.rows == len(rows) - 1 == 1000
    assert {row[2] for row in rows[1:]} == {"rating"}
    assert min(float(row[3]) for row in rows[1:]) == 2.0
    assert prepared.schema == INTERACTIONS_AVRO


def test_prepare_interactions_refuses_a_filter_that_leaves_too_little(
        ratings: Path, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="only 750 interactions"):
        prepare_interactions(ratings, tmp_path / "out.csv", min_rating=3)


def test_prepare_items_writes_genres_and_year_only(items: Path, tmp_path: Path) -> None:
    prepared = prepare_items(items, tmp_path / "out.csv")

    rows = list(csv.reader(open(prepared.path, encoding="utf-8")))
    assert rows == [["ITEM_ID", "GENRES", "YEAR"], ["m1", "Action|Crime", "1995"],
                    ["m2", "Sci-Fi", "1999"], ["m3", "", ""]]
    assert prepared.schema == ITEMS_AVRO


def test_prepare_items_refuses_a_file_without_metadata(tmp_path: Path) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text("ITEM_ID,TITLE\nm1,Heat\n", encoding="utf-8")

    with pytest.raises(ProvisionError, match="neither GENRES nor YEAR"):
        prepare_items(bare, tmp_path / "out.csv")


# --- S3, IAM and schemas on moto --------------------------------------------------------


def test_a_bucket_in_us_east_1_is_created_without_a_location_constraint(
        aws_credentials: None) -> None:
    with mock_aws():
        clients = AwsClients(*(client(name, "us-east-1")
                               for name in ("s3", "iam", "sts", "personalize")))
        names = ResourceNames(PREFIX, ACCOUNT, "us-east-1")

        assert Provisioner(clients, echo=lambda *a, **k: None).ensure_bucket(names)
        # moto, like S3, rejects LocationConstraint=us-east-1, so this also proves none was sent.
        assert clients.s3.get_bucket_location(Bucket=names.bucket)["LocationConstraint"] is None


def test_a_bucket_name_owned_by_another_account_is_reported(aws_credentials: None) -> None:
    s3 = client("s3")
    clients = AwsClients(s3=s3, iam=None, sts=None,
                         personalize=client("personalize"))
    names = ResourceNames(PREFIX, ACCOUNT, REGION)
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_bucket", "403", "Forbidden", 403,
                                 expected_params={"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT})

        with pytest.raises(ProvisionError, match="owned by another account"):
            Provisioner(clients, echo=lambda *a, **k: None).ensure_bucket(names)


def test_schemas_are_created_once_and_deleted_on_moto(moto_clients: AwsClients) -> None:
    provisioner = Provisioner(moto_clients, echo=lambda *a, **k: None)
    names = ResourceNames(PREFIX, ACCOUNT, REGION)

    created = provisioner.ensure_schema(names, "interactions", INTERACTIONS_AVRO)
    again = provisioner.ensure_schema(names, "interactions", INTERACTIONS_AVRO)

    assert created is not None and created.created
    assert again is not None and not again.created and again.arn == created.arn
    stored = moto_clients.personalize.describe_schema(schemaArn=created.arn)["schema"]
    assert json.loads(stored["schema"]) == INTERACTIONS_AVRO
    provisioner.teardown(Inventory(names, schemas=[again]))
    assert moto_clients.personalize.list_schemas()["schemas"] == []


def test_boto3_clients_need_a_region(aws_credentials: None, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    with pytest.raises(ProvisionError, match="No AWS region"):
        boto3_clients(None)
    assert boto3_clients("eu-central-1").personalize.meta.region_name == "eu-central-1"


# --- .env -------------------------------------------------------------------------------


def test_env_update_keeps_other_keys_and_comments(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# OMDb settings\nOMDB_API_KEY=abc123\n\nPERSONALIZE_CAMPAIGN_ARN=old\n"
                   "export DEBUG=1  # local only\n", encoding="utf-8")

    update_env_file(env, {"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN_ARN, "AWS_REGION": REGION})

    assert env.read_text(encoding="utf-8").splitlines() == [
        "# OMDb settings", "OMDB_API_KEY=abc123", "", f"PERSONALIZE_CAMPAIGN_ARN={CAMPAIGN_ARN}",
        "export DEBUG=1  # local only", f"AWS_REGION={REGION}"]


def test_env_update_leaves_no_repeat_that_would_override_the_new_value(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("AWS_REGION=eu-west-1\nOMDB_API_KEY=abc123\nAWS_REGION=eu-west-2",
                   encoding="utf-8")

    update_env_file(env, {"AWS_REGION": REGION})

    assert env.read_text(encoding="utf-8") == f"AWS_REGION={REGION}\nOMDB_API_KEY=abc123\n"


def test_env_update_creates_the_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"

    update_env_file(env, {"AWS_REGION": REGION})

    assert env.read_text(encoding="utf-8") == f"AWS_REGION={REGION}\n"


# --- status -----------------------------------------------------------------------------


def test_status_lists_resources_and_what_is_billing(cli: Cli, cloud: Cloud) -> None:
    make_bucket_and_role(cloud)
    p = cloud.personalize
    p.lists("list_dataset_groups", "datasetGroups",
            [summary("dataset_group", GROUP_ARN, name=PREFIX)])
    p.lists("list_solutions", "solutions",
            [summary("solution", SOLUTION_ARN, name=f"{PREFIX}-personalized")],
            datasetGroupArn=GROUP_ARN)
    retraining = f"{SOLUTION_ARN}/99ff"
    p.lists("list_solution_versions", "solutionVersions", [
        summary("solution_version", VERSION_ARN),
        summary("solution_version", retraining, "CREATE IN_PROGRESS", when=T1)],
        solutionArn=SOLUTION_ARN)
    p.lists("list_campaigns", "campaigns", [
        summary("campaign", CAMPAIGN_ARN, name=f"{PREFIX}-personalized"),
        summary("campaign", SIMS_CAMPAIGN_ARN, "CREATE FAILED", name=f"{PREFIX}-failed")],
        solutionArn=SOLUTION_ARN)
    p.lists("list_event_trackers", "eventTrackers", [], datasetGroupArn=GROUP_ARN)
    p.lists("list_filters", "Filters", [], datasetGroupArn=GROUP_ARN)
    p.lists("list_datasets", "datasets",
            [summary("dataset", DATASET_ARN, name=f"{PREFIX}-interactions")],
            datasetGroupArn=GROUP_ARN)
    p.lists("list_dataset_import_jobs", "datasetImportJobs",
            [summary("dataset_import_job", IMPORT_ARN, jobName=f"{PREFIX}-interactions-import-1")],
            datasetArn=DATASET_ARN)
    p.lists("list_schemas", "schemas",
            [{"name": f"{PREFIX}-interactions", "schemaArn": SCHEMA_ARN},
             {"name": "someone-elses-schema", "schemaArn": arn("schema/someone-elses-schema")}])

    result = cli("status")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert f"S3 bucket {BUCKET} exists" in lines
    assert f"IAM role {ROLE} exists" in lines
    assert f"schema {PREFIX}-interactions exists" in lines
    assert "someone-elses-schema" not in result.output
    assert f"import job {PREFIX}-interactions-import-1 ACTIVE" in lines
    assert "solution version a1b2c3d4 ACTIVE" in lines
    assert "solution version 99ff CREATE IN_PROGRESS billing: training hours" in lines
    assert (f"campaign {PREFIX}-personalized ACTIVE billing: its minimum TPS every hour, "
            "even when idle") in lines
    assert f"campaign {PREFIX}-failed CREATE FAILED" in lines  # not billing
    assert "2 resource(s) billing now" in result.output


def test_status_of_an_empty_account(cli: Cli, cloud: Cloud) -> None:
    cloud.personalize.lists("list_dataset_groups", "datasetGroups", [])
    cloud.personalize.lists("list_schemas", "schemas", [])

    result = cli("status")

    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "  none"


def test_status_reports_aws_errors_without_a_traceback(cli: Cli, cloud: Cloud) -> None:
    cloud.personalize.fail("list_dataset_groups", {}, "AccessDeniedException",
                           "User is not authorized to perform: personalize:ListDatasetGroups")

    result = cli("status")

    assert result.exit_code == 1
    assert "AWS refused ListDatasetGroups: AccessDeniedException" in result.output
    assert "Traceback" not in result.output


# --- teardown ---------------------------------------------------------------------------


def test_teardown_deletes_in_dependency_order(cli: Cli, cloud: Cloud, tmp_path: Path) -> None:
    make_bucket_and_role(cloud)
    Path(".env").write_text(f"OMDB_API_KEY=abc\nPERSONALIZE_CAMPAIGN_ARN={CAMPAIGN_ARN}\n",
                            encoding="utf-8")
    p = cloud.personalize
    # What is there: one solution trains, a campaign is already being deleted.
    p.lists("list_dataset_groups", "datasetGroups",
            [summary("dataset_group", GROUP_ARN, name=PREFIX)])
    p.lists("list_solutions", "solutions", [
        summary("solution", SOLUTION_ARN, name=f"{PREFIX}-personalized"),
        summary("solution", SIMS_ARN, name=f"{PREFIX}-sims")], datasetGroupArn=GROUP_ARN)
    p.lists("list_solution_versions", "solutionVersions",
            [summary("solution_version", VERSION_ARN)], solutionArn=SOLUTION_ARN)
    p.lists("list_campaigns", "campaigns",
            [summary("campaign", CAMPAIGN_ARN, name=f"{PREFIX}-personalized")],
            solutionArn=SOLUTION_ARN)
    p.lists("list_solution_versions", "solutionVersions",
            [summary("solution_version", SIMS_VERSION_ARN, "CREATE IN_PROGRESS")],
            solutionArn=SIMS_ARN)
    p.lists("list_campaigns", "campaigns",
            [summary("campaign", SIMS_CAMPAIGN_ARN, "DELETE PENDING", name=f"{PREFIX}-sims")],
            solutionArn=SIMS_ARN)
    p.lists("list_event_trackers", "eventTrackers",
            [summary("event_tracker", TRACKER_ARN, name=f"{PREFIX}-events")],
            datasetGroupArn=GROUP_ARN)
    p.lists("list_filters", "Filters", [], datasetGroupArn=GROUP_ARN)
    p.lists("list_datasets", "datasets",
            [summary("dataset", DATASET_ARN, name=f"{PREFIX}-interactions")],
            datasetGroupArn=GROUP_ARN)
    p.lists("list_schemas", "schemas",
            [{"name": f"{PREFIX}-interactions", "schemaArn": SCHEMA_ARN}])
    # Training in progress is stopped first: a training solution cannot be deleted.
    p.call("stop_solution_version_creation", {"solutionVersionArn": SIMS_VERSION_ARN})
    p.describes("solution_version", SIMS_VERSION_ARN, "CREATE STOPPING", "CREATE STOPPED")
    # 1. campaigns (the one already being deleted is only waited for)
    p.call("delete_campaign", {"campaignArn": CAMPAIGN_ARN})
    p.describes("campaign", CAMPAIGN_ARN, "DELETE IN_PROGRESS")
    p.gone("campaign", CAMPAIGN_ARN)
    p.gone("campaign", SIMS_CAMPAIGN_ARN)
    # 2. solutions: still in use for a moment, then deleted; the other is already gone
    p.fail("delete_solution", {"solutionArn": SOLUTION_ARN}, "ResourceInUseException",
           "Campaign is still being deleted", 409)
    p.call("delete_solution", {"solutionArn": SOLUTION_ARN})
    p.fail("delete_solution", {"solutionArn": SIMS_ARN}, "ResourceNotFoundException",
           "not found", 404)
    p.gone("solution", SOLUTION_ARN)
    # 3. event tracker, 4. (no filters), 5. datasets, 6. dataset group, 7. schema
    p.call("delete_event_tracker", {"eventTrackerArn": TRACKER_ARN})
    p.gone("event_tracker", TRACKER_ARN)
    p.call("delete_dataset", {"datasetArn": DATASET_ARN})
    p.gone("dataset", DATASET_ARN)
    p.call("delete_dataset_group", {"datasetGroupArn": GROUP_ARN})
    p.describes("dataset_group", GROUP_ARN, "DELETE PENDING")
    p.gone("dataset_group", GROUP_ARN)
    p.call("delete_schema", {"schemaArn": SCHEMA_ARN})

    result = cli("teardown", "--yes")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    assert f"solution {PREFIX}-personalized: in use (Campaign is still being deleted)" \
        in result.output
    assert f"solution {PREFIX}-sims: already gone" in result.output
    assert cloud.iam.list_roles()["Roles"] == []
    assert cloud.s3.list_buckets()["Buckets"] == []
    # IAM refuses to delete a role with policies, S3 a bucket with versions: both went first.
    assert cloud.iam.calls.index("delete_role") > cloud.iam.calls.index("detach_role_policy")
    assert Path(".env").read_text(encoding="utf-8") == "OMDB_API_KEY=abc\n"
    assert "Teardown complete." in result.output


def test_teardown_again_finds_nothing_to_delete(cli: Cli, cloud: Cloud) -> None:
    cloud.personalize.lists("list_dataset_groups", "datasetGroups", [])
    cloud.personalize.lists("list_schemas", "schemas", [])

    result = cli("teardown", "--yes")

    assert result.exit_code == 0
    assert f"Nothing named '{PREFIX}' to delete in {REGION}." in result.output
    cloud.stubber.assert_no_pending_responses()


def test_teardown_asks_first_and_stops_on_no(cli: Cli, cloud: Cloud) -> None:
    make_bucket_and_role(cloud)
    cloud.personalize.lists("list_dataset_groups", "datasetGroups", [])
    cloud.personalize.lists("list_schemas", "schemas", [])

    result = cli("teardown", input="n\n")

    assert result.exit_code == 1
    assert "Delete all of these" in result.output
    assert cloud.iam.writes() == [] and cloud.s3.writes() == []
    cloud.stubber.assert_no_pending_responses()


def test_teardown_can_keep_the_bucket(cli: Cli, cloud: Cloud) -> None:
    make_bucket_and_role(cloud)
    cloud.personalize.lists("list_dataset_groups", "datasetGroups", [])
    cloud.personalize.lists("list_schemas", "schemas", [])

    result = cli("teardown", "--keep-bucket", "--yes")

    assert result.exit_code == 0, result.output
    assert cloud.iam.list_roles()["Roles"] == []
    assert [b["Name"] for b in cloud.s3.list_buckets()["Buckets"]] == [BUCKET]


# --- metrics ----------------------------------------------------------------------------


def expect_metrics(p: Personalize) -> None:
    p.lists("list_dataset_groups", "datasetGroups",
            [summary("dataset_group", GROUP_ARN, name=PREFIX)])
    p.lists("list_solutions", "solutions",
            [summary("solution", SOLUTION_ARN, name=f"{PREFIX}-personalized")],
            datasetGroupArn=GROUP_ARN)
    older = f"{SOLUTION_ARN}/0000"
    p.lists("list_solution_versions", "solutionVersions", [
        summary("solution_version", older),
        summary("solution_version", VERSION_ARN, when=T1),
        summary("solution_version", f"{SOLUTION_ARN}/ffff", "CREATE FAILED", when=T1)],
        solutionArn=SOLUTION_ARN)
    p.call("get_solution_metrics", {"solutionVersionArn": VERSION_ARN},
           {"solutionVersionArn": VERSION_ARN,
            "metrics": {"coverage": 0.2512, "precision_at_10": 0.0831}})


def test_metrics_prints_the_deployed_versions_figures(
        cli: Cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evaluate", None)  # no embedded figures to compare
    expect_metrics(cloud.personalize)

    result = cli("metrics")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    lines = [line.split() for line in result.output.splitlines()]
    assert ["coverage", "0.2512"] in lines
    assert ["precision_at_10", "0.0831"] in lines
    assert ["normalized_discounted_cumulative_gain_at_25", "—"] in lines
    assert "evaluate.evaluate_embedded is not available" in result.output


def test_metrics_sit_beside_the_embedded_engines(
        cli: Cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def evaluate_embedded(ratings_path: str) -> dict[str, dict[str, dict[str, float]]]:
        seen.append(ratings_path)
        return {"user-personalization": {"coverage": {"mean": 0.4, "std": 0.01},
                                         "training_seconds": {"mean": 1.5, "std": 0.1}},
                "popularity-count": {"coverage": {"mean": 0.01, "std": 0.0},
                                     "precision_at_10": {"mean": 0.05, "std": 0.0}}}

    monkeypatch.setitem(sys.modules, "evaluate",
                        types.SimpleNamespace(evaluate_embedded=evaluate_embedded))
    expect_metrics(cloud.personalize)

    result = cli("metrics", "--ratings", "data/ratings.csv")

    assert result.exit_code == 0, result.output
    assert seen == ["data/ratings.csv"]
    lines = [line.split() for line in result.output.splitlines()]
    assert ["metric", "Personalize", "user-personalization", "popularity-count"] in lines
    assert ["coverage", "0.2512", "0.4000", "0.0100"] in lines
    assert ["precision_at_10", "0.0831", "—", "0.0500"] in lines
    assert "training_seconds" not in result.output  # a timing, not one of Personalize's metrics


def test_metrics_without_a_trained_version(cli: Cli, cloud: Cloud) -> None:
    cloud.personalize.lists("list_dataset_groups", "datasetGroups", [])

    result = cli("metrics")

    assert result.exit_code == 1
    assert f"No trained version of solution {PREFIX}-personalized" in result.output

