"""Single provisioning steps: waiting, retries, progress lines, S3, IAM and schemas on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from provision_support import (
    ACCOUNT,
    BUCKET,
    CAMPAIGN_ARN,
    DATASET_ARN,
    GROUP_ARN,
    INTERACTIONS_AVRO,
    PREFIX,
    REGION,
    ROLE_ARN,
    Cloud,
    client,
    import_params,
    quiet_provisioner,
)

from provisioning.deploy import IAM_PROPAGATION_DELAY
from provisioning.errors import ProvisionError
from provisioning.provisioner import Provisioner
from provisioning.resources import (
    CAMPAIGN,
    DATASET,
    DATASET_GROUP,
    AwsClients,
    Resource,
    ResourceNames,
    StatusLine,
    boto3_clients,
    format_elapsed,
)
from provisioning.teardown import Inventory
from provisioning.upload import PreparedFile

pytest_plugins = ["provision_fixtures"]


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

# What Personalize answers while a new role is not yet usable: either code, naming the role.
PROPAGATION_ERRORS = [
    ("InvalidInputException", "Insufficient privileges for accessing data in S3"),
    ("AccessDeniedException", f"Personalize cannot assume the role {ROLE_ARN}"),
]


@pytest.mark.parametrize(("code", "message"), PROPAGATION_ERRORS)
def test_import_retries_while_the_new_role_propagates_then_gives_up(
        cloud: Cloud, code: str, message: str) -> None:
    p = cloud.personalize
    p.lists("list_dataset_import_jobs", "datasetImportJobs", [], datasetArn=DATASET_ARN)
    attempts = 6
    for _ in range(attempts):
        p.fail("create_dataset_import_job", import_params("interactions", DATASET_ARN),
               code, message)
    dataset = Resource(DATASET, f"{PREFIX}-interactions", DATASET_ARN)

    with pytest.raises(ClientError, match=code):
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


def test_a_changed_file_replaces_the_upload_and_an_unchanged_one_is_skipped(
        aws_credentials: None, tmp_path: Path) -> None:
    said: list[str] = []
    names = ResourceNames(PREFIX, ACCOUNT, REGION)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("USER_ID\nu1\n", encoding="utf-8")
    second.write_text("USER_ID\nu2\n", encoding="utf-8")
    with mock_aws():
        clients = AwsClients(*(client(name) for name in ("s3", "iam", "sts", "personalize")))
        steps = Provisioner(clients, echo=lambda text="", **_: said.append(text))
        steps.ensure_bucket(names)
        steps.upload(names, "interactions", PreparedFile(first, {}, 1, "digest-1"), True)
        said.clear()

        steps.upload(names, "interactions", PreparedFile(second, {}, 1, "digest-2"), True)
        changed, said[:] = said[:], []
        steps.upload(names, "interactions", PreparedFile(second, {}, 1, "digest-2"), True)

        stored = clients.s3.get_object(Bucket=BUCKET, Key="interactions.csv")
        assert stored["Body"].read() == b"USER_ID\nu2\n"
        assert stored["Metadata"] == {"sha256": "digest-2"}
        assert len(clients.s3.list_object_versions(Bucket=BUCKET).get("Versions", [])) == 1
    assert "the file changed since the last upload" in changed[0]
    assert "uploaded (1 rows)" in changed[-1]
    assert said == [f"  s3://{BUCKET}/interactions.csv: up to date (1 rows)"]
