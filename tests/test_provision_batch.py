"""`flask personalize batch`: a batch inference job for a users file, resumable like deploy.

S3 and IAM are moto's; Personalize's control plane is a Stubber, and FakeBatchJob does what
Personalize does with a new job (reads the uploaded input, writes `<input name>.out`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from provision_support import (
    BATCH_JOB_ARN,
    BUCKET,
    PREFIX,
    ROLE,
    VERSION_ARN,
    Cli,
    Cloud,
    FakeBatchJob,
    batch_job_summary,
    expect_batch_jobs,
    expect_new_batch_job,
    expect_trained_version,
    make_bucket_and_role,
)

from provisioning.cli import EXTENSION_KEY

pytest_plugins = ["provision_fixtures"]

JOB_NAME = re.compile(rf"{PREFIX}-batch-[0-9a-f]{{12}}-(\d+)")


@pytest.fixture
def deployed(cloud: Cloud) -> Cloud:
    """What deploy left: the bucket and the service role (the trained version is stubbed)."""
    make_bucket_and_role(cloud)
    return cloud


@pytest.fixture
def job(deployed: Cloud) -> FakeBatchJob:
    return FakeBatchJob(deployed.clients.personalize)


@pytest.fixture
def users(tmp_path: Path) -> Path:
    """Plain IDs and Personalize's JSON lines, a repeat, and a line no ID can be."""
    path = tmp_path / "users.txt"
    path.write_text('u2\n{"userId": "u1"}\nbad\tid\nu2\n', encoding="utf-8")
    return path


def lines_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def picks(user: str) -> dict[str, Any]:
    return {"input": {"userId": user}, "error": None,
            "output": {"recommendedItems": FakeBatchJob.recommended(user), "scores": [0.5, 0.25]}}


BAD_LINE = {"input": {"userId": "bad\tid"}, "output": None,
            "error": "line 3: A user ID cannot contain control characters such as tabs or "
                     "newlines."}


def test_batch_runs_a_job_on_the_trained_version_and_merges_its_output_in_the_files_order(
        cli: Cli, deployed: Cloud, job: FakeBatchJob, users: Path, tmp_path: Path) -> None:
    expect_new_batch_job(deployed.personalize, "CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE",
                         count=10)
    out = tmp_path / "recs.jsonl"

    result = cli("batch", "--users", str(users), "--n", "10", "--out", str(out))

    assert result.exit_code == 0, result.output
    deployed.stubber.assert_no_pending_responses()
    assert lines_of(out.read_text()) == [picks("u2"), picks("u1"), BAD_LINE, picks("u2")]
    # The input: each usable ID once, in Personalize's format, under batch/input/.
    [params] = job.jobs
    name = params["jobName"]
    assert JOB_NAME.fullmatch(name).group(1) == "1"
    base = name.removesuffix("-1")
    assert params["jobInput"] == {"s3DataSource": {
        "path": f"s3://{BUCKET}/batch/input/{base}.json"}}
    assert params["jobOutput"] == {"s3DataDestination": {
        "path": f"s3://{BUCKET}/batch/output/{name}/"}}
    uploaded = deployed.s3.get_object(Bucket=BUCKET, Key=f"batch/input/{base}.json")
    assert uploaded["Body"].read() == b'{"userId": "u2"}\n{"userId": "u1"}\n'
    assert f"batch inference job {name} (created): CREATE IN_PROGRESS, 1m 00s" in result.output
    assert f"batch inference job {name} (created): ACTIVE, 2m 00s" in result.output
    assert f"Wrote 4 lines to {out}; 1 with an error." in result.output


def test_personalize_may_write_under_batch_output_and_nowhere_else(
        cli: Cli, deployed: Cloud, job: FakeBatchJob, users: Path) -> None:
    expect_new_batch_job(deployed.personalize)

    assert cli("batch", "--users", str(users)).exit_code == 0

    output = f"arn:aws:s3:::{BUCKET}/batch/output/*"
    role_policy = deployed.iam.get_role_policy(RoleName=ROLE, PolicyName="write-batch-output")
    assert role_policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": output}]
    bucket_policy = json.loads(deployed.s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    read, write = bucket_policy["Statement"]
    assert read["Action"] == ["s3:GetObject", "s3:ListBucket"]  # deploy's, kept
    assert (write["Principal"], write["Action"], write["Resource"]) == (
        {"Service": "personalize.amazonaws.com"}, "s3:PutObject", output)


def test_without_an_output_file_the_lines_go_to_stdout(
        cli: Cli, deployed: Cloud, job: FakeBatchJob, users: Path) -> None:
    expect_new_batch_job(deployed.personalize)

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 0, result.output
    json_lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines_of("\n".join(json_lines)) == [picks("u2"), picks("u1"), BAD_LINE, picks("u2")]
    assert "Wrote 4 lines; 1 with an error." in result.stderr


# --- Resuming ---------------------------------------------------------------------------------


def run_once(cli: Cli, cloud: Cloud, users: Path) -> str:
    """A first, complete run; the job's name."""
    expect_new_batch_job(cloud.personalize)
    job = FakeBatchJob(cloud.clients.personalize)
    assert cli("batch", "--users", str(users)).exit_code == 0
    return job.jobs[0]["jobName"]


def test_a_rerun_after_the_job_finished_only_downloads(
        cli: Cli, deployed: Cloud, users: Path) -> None:
    name = run_once(cli, deployed, users)
    deployed.s3.calls.clear()
    deployed.iam.calls.clear()
    expect_trained_version(deployed.personalize)
    expect_batch_jobs(deployed.personalize, batch_job_summary(name))

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 0, result.output
    deployed.stubber.assert_no_pending_responses()  # no new job, no polling
    assert deployed.s3.writes() == [] and deployed.iam.writes() == []
    assert deployed.s3.calls == ["get_object"]
    assert f"batch inference job {name} (exists): ACTIVE" in result.output
    assert len([line for line in result.stdout.splitlines() if line.startswith("{")]) == 4


def test_an_interrupted_wait_resumes_with_the_same_job(
        cli: Cli, deployed: Cloud, job: FakeBatchJob, users: Path) -> None:
    expect_new_batch_job(deployed.personalize, "CREATE PENDING")

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    hooks = cli.app.extensions[EXTENSION_KEY]
    hooks.sleep, keep = interrupt, hooks.sleep
    interrupted = cli("batch", "--users", str(users))
    hooks.sleep = keep

    assert interrupted.exit_code == 1
    assert "Interrupted. What was created is kept: run batch again to resume" in interrupted.output
    [params] = job.jobs
    expect_trained_version(deployed.personalize)
    expect_batch_jobs(deployed.personalize, batch_job_summary(params["jobName"], "CREATE PENDING"))
    deployed.personalize.describes("batch_inference_job", BATCH_JOB_ARN, "CREATE IN_PROGRESS",
                                   "ACTIVE")

    resumed = cli("batch", "--users", str(users))

    assert resumed.exit_code == 0, resumed.output
    deployed.stubber.assert_no_pending_responses()
    assert len(job.jobs) == 1  # no second job
    assert f"batch inference job {params['jobName']} (exists): ACTIVE" in resumed.output


def test_a_failed_job_is_replaced_by_a_new_one_on_the_next_run(
        cli: Cli, deployed: Cloud, job: FakeBatchJob, users: Path) -> None:
    expect_new_batch_job(deployed.personalize, "CREATE FAILED",
                         failureReason="Access Denied writing the output")
    failed = cli("batch", "--users", str(users))
    [first] = job.jobs
    expect_new_batch_job(deployed.personalize,
                         existing=(batch_job_summary(first["jobName"], "CREATE FAILED"),))

    retried = cli("batch", "--users", str(users))

    assert failed.exit_code == 1
    assert (f"batch inference job {first['jobName']} CREATE FAILED: Access Denied writing the "
            "output\nTo retry: fix the cause and run batch again; it starts a new one."
            ) in failed.output
    assert retried.exit_code == 0, retried.output
    deployed.stubber.assert_no_pending_responses()
    second = job.jobs[1]["jobName"]
    assert second == first["jobName"].removesuffix("-1") + "-2"
    assert job.jobs[1]["jobOutput"]["s3DataDestination"]["path"].endswith(f"/{second}/")


def test_another_count_or_other_users_make_another_job(
        cli: Cli, deployed: Cloud, job: FakeBatchJob, users: Path, tmp_path: Path) -> None:
    others = tmp_path / "others.txt"
    others.write_text("u3\n")
    expect_new_batch_job(deployed.personalize)
    expect_new_batch_job(deployed.personalize, count=5)
    expect_new_batch_job(deployed.personalize)

    for args in (["--users", str(users)], ["--users", str(users), "--n", "5"],
                 ["--users", str(others)]):
        assert cli("batch", *args).exit_code == 0

    assert len({params["jobName"] for params in job.jobs}) == 3


# --- What the job could not do ----------------------------------------------------------------


def test_users_the_job_wrote_nothing_or_an_error_for_get_error_lines(
        cli: Cli, deployed: Cloud, tmp_path: Path) -> None:
    FakeBatchJob(deployed.clients.personalize, skip=("u1",), fail=("u3",))
    expect_new_batch_job(deployed.personalize)
    users = tmp_path / "users.txt"
    users.write_text("u1\nu2\nu3\n")

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines == [
        {"input": {"userId": "u1"}, "output": None,
         "error": "the batch inference job wrote no line for this user"},
        picks("u2"),
        {"input": {"userId": "u3"}, "output": None,
         "error": "Amazon Personalize could not process this line"}]


def test_the_role_is_retried_while_its_new_permission_is_not_usable(
        cli: Cli, deployed: Cloud, job: FakeBatchJob, users: Path) -> None:
    expect_new_batch_job(deployed.personalize, propagation_errors=2)

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 0, result.output
    deployed.stubber.assert_no_pending_responses()
    assert "the role's permission is not usable yet; retrying in 10s (2/5)" in result.output
    assert deployed.time.sleeps[:2] == [10.0, 10.0]


def test_without_a_trained_version_nothing_is_uploaded(
        cli: Cli, deployed: Cloud, users: Path) -> None:
    deployed.personalize.lists("list_dataset_groups", "datasetGroups", [])

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 1
    assert f"No trained version of solution {PREFIX}-personalized" in result.output
    assert deployed.s3.writes() == [] and deployed.iam.writes() == []


def test_without_the_service_role_it_says_to_deploy(
        cli: Cli, cloud: Cloud, users: Path) -> None:
    expect_trained_version(cloud.personalize)
    expect_batch_jobs(cloud.personalize)

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 1
    assert f"IAM role {ROLE} not found; run `flask --app app personalize deploy` first." in (
        result.output)
    assert cloud.s3.writes() == []


def test_a_file_without_a_usable_id_is_refused_before_any_aws_call(
        cli: Cli, cloud: Cloud, tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text('{"user": "1"}\n\n')

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 1
    assert "The users file has no usable user ID." in result.output
    assert cloud.sts.calls == [] and cloud.s3.calls == []


def test_a_missing_output_is_reported_not_a_traceback(
        cli: Cli, deployed: Cloud, users: Path) -> None:
    expect_new_batch_job(deployed.personalize)  # no FakeBatchJob: nothing writes the output

    result = cli("batch", "--users", str(users))

    assert result.exit_code == 1
    assert "is ACTIVE, but its output s3://" in result.output
    assert "Traceback" not in result.output
    assert VERSION_ARN in result.output  # the run said which version it asked
