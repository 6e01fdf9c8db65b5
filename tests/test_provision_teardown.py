"""`flask personalize status` and `teardown`: the inventory, billing notes, deletion order."""

from __future__ import annotations

from pathlib import Path

from provision_support import (
    BUCKET,
    CAMPAIGN_ARN,
    PREFIX,
    REGION,
    ROLE,
    Cli,
    Cloud,
    expect_full_teardown,
    expect_status_inventory,
    make_bucket_and_role,
)

pytest_plugins = ["provision_fixtures"]


# --- status -----------------------------------------------------------------------------


def test_status_lists_resources_and_what_is_billing(cli: Cli, cloud: Cloud) -> None:
    make_bucket_and_role(cloud)
    expect_status_inventory(cloud.personalize)

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
    expect_full_teardown(cloud.personalize)

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
