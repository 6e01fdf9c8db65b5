"""`flask personalize status` and `teardown`: the inventory, billing notes, deletion order."""

from __future__ import annotations

from pathlib import Path

from provision_support import (
    BUCKET,
    CAMPAIGN_ARN,
    DATASET_ARN,
    GROUP_ARN,
    IMPORT_ARN,
    PREFIX,
    REGION,
    ROLE,
    SCHEMA_ARN,
    SIMS_ARN,
    SIMS_CAMPAIGN_ARN,
    SIMS_VERSION_ARN,
    SOLUTION_ARN,
    T1,
    TRACKER_ARN,
    VERSION_ARN,
    Cli,
    Cloud,
    arn,
    make_bucket_and_role,
    summary,
)

pytest_plugins = ["provision_fixtures"]


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
