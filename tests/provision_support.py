"""Shared by the tests/test_provision_*.py files: constants, AWS test doubles, expected calls.

The fixtures built on them are in provision_fixtures.py.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
import moto  # noqa: F401 - must come before SESSION is made (see there)
from botocore.stub import ANY, Stubber
from flask import Flask

from provisioning.provisioner import Provisioner
from provisioning.resources import AwsClients

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
# moto hooks into botocore when imported, and a session only sees hooks that came before it.
SESSION = boto3.session.Session()


def client(service: str, region: str = REGION) -> Any:
    return SESSION.client(service, region_name=region)


# --- Test doubles ------------------------------------------------------------------------


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


class CallRecorder:
    """Records the calls made through boto3 clients, with their parameters."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.on = False

    def attach(self, *clients: Any) -> None:
        for aws_client in clients:
            # before-parameter-build is emitted to every handler (before-call stops at the
            # Stubber's answer), after the Stubber has checked the parameters.
            aws_client.meta.events.register("before-parameter-build.*.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.on:
            self.calls.append((model.service_model.signing_name, model.name, dict(params)))

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Only calls made inside are recorded (not the test's own set-up calls)."""
        self.on = True
        try:
            yield
        finally:
            self.on = False

    def operations(self) -> set[str]:
        return {f"{service}:{operation}" for service, operation, _ in self.calls}


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


@dataclass
class Cli:
    app: Flask
    regions: list[str | None]

    def __call__(self, *args: str, input: str | None = None) -> Any:
        return self.app.test_cli_runner().invoke(args=["personalize", *args], input=input)


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
                        existing: list[dict] | None = None, config: dict | None = None) -> None:
    p.lists("list_solutions", "solutions", existing or [], datasetGroupArn=GROUP_ARN)
    params = {"name": f"{PREFIX}-{purpose}", "datasetGroupArn": GROUP_ARN, "recipeArn": recipe,
              "performAutoTraining": False} | ({"solutionConfig": config} if config else {})
    p.call("create_solution", params, {"solutionArn": solution_arn})
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


def expect_interactions_imported(p: Personalize) -> None:
    """An empty account up to a finished import of the interactions."""
    expect_new_dataset_group(p)
    expect_new_dataset(p, "interactions", INTERACTIONS_AVRO, SCHEMA_ARN, DATASET_ARN)
    expect_new_import(p, "interactions", DATASET_ARN, IMPORT_ARN)
    p.describes("dataset_import_job", IMPORT_ARN, "ACTIVE")


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


def expect_training_and_campaign(p: Personalize, recipe: str = USER_PERSONALIZATION_V2,
                                 config: dict | None = None) -> None:
    expect_new_solution(p, "personalized", recipe, SOLUTION_ARN, config=config)
    expect_new_version(p, SOLUTION_ARN, VERSION_ARN)
    p.describes("solution_version", VERSION_ARN, "CREATE IN_PROGRESS", "ACTIVE")
    expect_new_campaign(p, "personalized", SOLUTION_ARN, VERSION_ARN, CAMPAIGN_ARN)
    p.describes("campaign", CAMPAIGN_ARN, "CREATE IN_PROGRESS", "ACTIVE")


def expect_full_deploy(p: Personalize) -> None:
    """deploy --items --with-sims --event-tracker on an empty account; the new role is retried."""
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


def expect_status_inventory(p: Personalize) -> None:
    """One of everything for status: a campaign billing, a training billing, a failed campaign."""
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


def expect_full_teardown(p: Personalize) -> None:
    """teardown of one of everything: training is stopped, a campaign is already going."""
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


def expect_metrics(p: Personalize) -> None:
    """The newest ACTIVE version of the main solution, and its metrics."""
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


# --- personalize batch -------------------------------------------------------------------

BATCH_JOB_ARN = arn(f"batch-inference-job/{PREFIX}-batch")


def expect_trained_version(p: Personalize) -> None:
    """The lookups that find the deployed solution's newest ACTIVE version, VERSION_ARN."""
    p.lists("list_dataset_groups", "datasetGroups",
            [summary("dataset_group", GROUP_ARN, name=PREFIX)])
    p.lists("list_solutions", "solutions",
            [summary("solution", SOLUTION_ARN, name=f"{PREFIX}-personalized")],
            datasetGroupArn=GROUP_ARN)
    p.lists("list_solution_versions", "solutionVersions",
            [summary("solution_version", VERSION_ARN)], solutionArn=SOLUTION_ARN)


def expect_batch_jobs(p: Personalize, *jobs: dict[str, Any]) -> None:
    p.lists("list_batch_inference_jobs", "batchInferenceJobs", list(jobs),
            solutionVersionArn=VERSION_ARN)


def batch_job_summary(name: str, status: str = "ACTIVE", job_arn: str = BATCH_JOB_ARN,
                      when: datetime = T0) -> dict[str, Any]:
    return summary("batch_inference_job", job_arn, status, when, jobName=name,
                   solutionVersionArn=VERSION_ARN)


def expect_new_batch_job(p: Personalize, *statuses: str, count: int = 25,
                         existing: tuple[dict[str, Any], ...] = (), propagation_errors: int = 0,
                         **fields: Any) -> None:
    """A batch run that starts a job and polls it through `statuses` (default: ACTIVE).

    The job's name and S3 paths vary with the input; FakeBatchJob records them for the test.
    """
    expect_trained_version(p)
    expect_batch_jobs(p, *existing)
    params = {"jobName": ANY, "solutionVersionArn": VERSION_ARN, "numResults": count,
              "jobInput": ANY, "jobOutput": ANY, "roleArn": ROLE_ARN}
    for _ in range(propagation_errors):
        p.fail("create_batch_inference_job", params, "InvalidInputException",
               "Insufficient privileges for accessing data in S3; check the role's permissions")
    p.call("create_batch_inference_job", params, {"batchInferenceJobArn": BATCH_JOB_ARN})
    p.describes("batch_inference_job", BATCH_JOB_ARN, *(statuses or ("ACTIVE",)), **fields)


class FakeBatchJob:
    """Does what Personalize does when a batch inference job is created: reads the input from
    S3 and writes `<input name>.out` under the output path (in reverse order, as nothing
    promises the input's). Users in `skip` get no line; users in `fail` an error line."""

    def __init__(self, personalize_client: Any, skip: tuple[str, ...] = (),
                 fail: tuple[str, ...] = ()) -> None:
        self.s3 = client("s3")  # its own client: what Personalize does is not the caller's call
        self.skip, self.fail = skip, fail
        self.jobs: list[dict[str, Any]] = []
        personalize_client.meta.events.register(
            "before-parameter-build.personalize.CreateBatchInferenceJob", self._run)

    @staticmethod
    def recommended(user_id: str) -> list[str]:
        return [f"{user_id}-pick-1", f"{user_id}-pick-2"]

    def _run(self, params: dict[str, Any], **_: Any) -> None:
        self.jobs.append(dict(params))
        source = params["jobInput"]["s3DataSource"]["path"]
        bucket, key = source.removeprefix("s3://").split("/", 1)
        users = [json.loads(line)["userId"] for line in
                 self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]
        lines = []
        for user in reversed(users):
            if user in self.skip:
                continue
            output = None if user in self.fail else {
                "recommendedItems": self.recommended(user), "scores": [0.5, 0.25]}
            error = "Amazon Personalize could not process this line" if user in self.fail else None
            lines.append(json.dumps({"input": {"userId": user}, "output": output,
                                     "error": error}))
        destination = params["jobOutput"]["s3DataDestination"]["path"]
        out_bucket, prefix = destination.removeprefix("s3://").split("/", 1)
        self.s3.put_object(Bucket=out_bucket, Key=f"{prefix}{key.rsplit('/', 1)[-1]}.out",
                           Body="\n".join(lines).encode())
