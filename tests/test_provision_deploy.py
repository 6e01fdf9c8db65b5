"""`flask personalize deploy`: the whole run on a Stubber-ed Personalize, resuming, dry runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from provision_support import (
    ACCOUNT,
    BUCKET,
    CAMPAIGN_ARN,
    DATASET_ARN,
    GROUP_ARN,
    IMPORT_ARN,
    INTERACTIONS_AVRO,
    PREFIX,
    REGION,
    ROLE,
    SCHEMA_ARN,
    SIMS_CAMPAIGN_ARN,
    SOLUTION_ARN,
    TRACKING_ID,
    USER_PERSONALIZATION_V2,
    Cli,
    Cloud,
    arn,
    expect_existing_up_to_import,
    expect_full_deploy,
    expect_interactions_imported,
    expect_new_dataset,
    expect_new_dataset_group,
    expect_new_import,
    expect_training_and_campaign,
    import_params,
    make_bucket_and_role,
    read_object,
    summary,
)

from provisioning.deploy import IAM_PROPAGATION_DELAY

pytest_plugins = ["provision_fixtures"]


# --- deploy -----------------------------------------------------------------------------


def test_help_lists_the_commands(cli: Cli) -> None:
    result = cli("--help")

    assert result.exit_code == 0
    for command in ("deploy", "status", "teardown", "metrics"):
        assert command in result.output


def test_full_deploy_on_an_empty_account(cli: Cli, cloud: Cloud, ratings: Path,
                                         items: Path) -> None:
    expect_full_deploy(cloud.personalize)

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


def test_deploy_blocks_public_access_to_the_bucket_and_lets_personalize_read_it(
        cli: Cli, cloud: Cloud, ratings: Path, items: Path) -> None:
    p = cloud.personalize
    expect_interactions_imported(p)
    expect_training_and_campaign(p)

    result = cli("deploy", "--ratings", str(ratings), "--min-rating", "2")

    assert result.exit_code == 0, result.output
    s3 = cloud.s3
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == REGION
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    [statement] = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert statement["Effect"] == "Allow"
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
    expect_interactions_imported(p)
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
    expect_interactions_imported(p)
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

def test_recipe_option_picks_the_recipe_of_the_main_solution(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    expect_existing_up_to_import(cloud.personalize)
    expect_training_and_campaign(cloud.personalize,
                                 recipe="arn:aws:personalize:::recipe/aws-popularity-count")

    result = cli("deploy", "--ratings", str(ratings), "--recipe", "popularity-count")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()


def test_trending_now_gets_personalizes_recipe_and_a_one_day_trend_interval(
        cli: Cli, cloud: Cloud, ratings: Path) -> None:
    expect_existing_up_to_import(cloud.personalize)
    # The documented hyperparameter (native-recipe-trending-now): a ratings file has a few
    # ratings a day, so the longest of its intervals.
    expect_training_and_campaign(
        cloud.personalize, recipe="arn:aws:personalize:::recipe/aws-trending-now",
        config={"featureTransformationParameters": {"trend_discovery_frequency": "1 day"}})

    result = cli("deploy", "--ratings", str(ratings), "--recipe", "trending-now")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    assert f"PERSONALIZE_CAMPAIGN_ARN={CAMPAIGN_ARN}" in Path(".env").read_text(encoding="utf-8")


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
