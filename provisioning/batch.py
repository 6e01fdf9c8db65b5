"""`personalize batch`: recommendations for a users file from a Personalize batch inference job.

The file's usable user IDs go to the bucket as Personalize's batch input, one `{"userId": "…"}`
per line; a batch inference job of the deployed solution's newest trained version writes
`<input name>.out` under its output prefix; that is downloaded and merged back into the file's
order, with the file's unusable lines as error lines (batch.py's format).

The job's name comes from a digest of the version, the count and the IDs, so re-running the
same command finds the same job: it waits for one still running, only downloads a finished one,
and starts a new one (`-2`, `-3`, …) in place of one that failed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from batch import BatchInput, Record, merge_outputs, unique_user_ids
from provisioning.bucket_and_role import bucket_policy
from provisioning.deploy import (
    IAM_PROPAGATION_DELAY,
    IAM_PROPAGATION_RETRIES,
    _looks_like_propagation,
)
from provisioning.errors import ProvisionError
from provisioning.metrics import MetricsSteps
from provisioning.resources import Kind, Resource, ResourceNames

BATCH_JOB = Kind("batch_inference_job", "batch inference job", 60, 4 * 3600,
                 retried_by_deploy=True, command="batch")
INPUT_FOLDER = "batch/input/"
OUTPUT_FOLDER = "batch/output/"
WRITE_POLICY_NAME = "write-batch-output"


def batch_input(user_ids: Sequence[str]) -> bytes:
    """Personalize's batch input for USER_PERSONALIZATION recipes: one JSON object per line."""
    return "".join(json.dumps({"userId": user_id}) + "\n" for user_id in user_ids).encode()


def job_base_name(prefix: str, version_arn: str, count: int, body: bytes) -> str:
    """The same version, count and users give the same name (at most 63 characters)."""
    digest = hashlib.sha256(f"{version_arn}\n{count}\n".encode() + body).hexdigest()
    return f"{prefix}-batch-{digest[:12]}"


def input_key(base: str) -> str:
    return f"{INPUT_FOLDER}{base}.json"


def output_key(base: str, job_name: str) -> str:
    """Where Personalize writes the job's output: the input's name plus `.out`."""
    return f"{OUTPUT_FOLDER}{job_name}/{base}.json.out"


def _output_objects(bucket: str, partition: str) -> str:
    return f"arn:{partition}:s3:::{bucket}/{OUTPUT_FOLDER}*"


def bucket_policy_with_batch_output(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """Deploy's bucket policy, plus Personalize writing under batch/output/ (and nowhere else)."""
    policy = bucket_policy(bucket, partition)
    policy["Statement"].append({
        "Sid": "PersonalizeWritesBatchOutput", "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": _output_objects(bucket, partition)})
    return policy


def role_write_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """The role's second inline policy: write under batch/output/ only."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:PutObject",
        "Resource": _output_objects(bucket, partition)}]}


class BatchSteps(MetricsSteps):
    """Upload the input, find or start the job, wait for it, download and merge its output."""

    def batch(self, prefix: str, entries: list[BatchInput], count: int) -> list[Record]:
        """One output line per entry, in order; raises ProvisionError when the job cannot run."""
        user_ids = unique_user_ids(entries)
        if not user_ids:
            raise ProvisionError("The users file has no usable user ID.")
        names = self.names(prefix)
        version = self.trained_version(names)
        body = batch_input(user_ids)
        base = job_base_name(prefix, version.arn, count, body)
        self.echo(f"Batch recommendations for {len(user_ids):,} users from {version.arn}:")
        job = self.ensure_batch_job(names, version, base, body, count)
        self.wait_until_active(job)
        return merge_outputs(entries, self.download_output(names, base, job.name))

    def ensure_batch_job(self, names: ResourceNames, version: Resource, base: str, body: bytes,
                         count: int) -> Resource:
        """This input's job, unless it failed; else upload the input and start a new one."""
        jobs = [job for job in self._list(BATCH_JOB, "list_batch_inference_jobs",
                                          "batchInferenceJobs", name_key="jobName",
                                          solutionVersionArn=version.arn)
                if job.name.startswith(f"{base}-")]
        reusable = self._latest_unfailed(jobs, "the last batch inference job for this input")
        if reusable is not None:
            return reusable
        name = f"{base}-{len(jobs) + 1}"
        role_arn = self.allow_batch_output(names)
        uri = f"s3://{names.bucket}/{input_key(base)}"
        self.s3.put_object(Bucket=names.bucket, Key=input_key(base), Body=body,
                           ContentType="application/json")
        users = body.count(b"\n")  # one line per user
        self.echo(f"  {uri}: uploaded ({users:,} users)")

        def create() -> str:
            return self._create_batch_job(name, version.arn, uri,
                                          f"s3://{names.bucket}/{OUTPUT_FOLDER}{name}/",
                                          role_arn, count)

        created = self._ensure(BATCH_JOB, name, None, create)
        assert created is not None  # None only on a dry run, which batch has not
        return created

    def allow_batch_output(self, names: ResourceNames) -> str:
        """Let deploy's role, and Personalize, write under batch/output/; the role's ARN.

        Re-applied on every new job: a later deploy puts back its own bucket policy.
        """
        try:
            role_arn = self.iam.get_role(RoleName=names.role)["Role"]["Arn"]
        except self.iam.exceptions.NoSuchEntityException:
            raise ProvisionError(f"IAM role {names.role} not found; run "
                                 "`flask --app app personalize deploy` first.") from None
        self.iam.put_role_policy(
            RoleName=names.role, PolicyName=WRITE_POLICY_NAME,
            PolicyDocument=json.dumps(role_write_policy(names.bucket, names.partition)))
        self.s3.put_bucket_policy(Bucket=names.bucket, Policy=json.dumps(
            bucket_policy_with_batch_output(names.bucket, names.partition)))
        self.echo(f"  IAM role {names.role} and bucket policy: Personalize may write "
                  f"s3://{names.bucket}/{OUTPUT_FOLDER}")
        return role_arn

    def _create_batch_job(self, name: str, version_arn: str, input_uri: str, output_uri: str,
                          role_arn: str, count: int) -> str:
        """Start the job, retrying while the role's new permission is not yet usable."""
        attempt = 1
        while True:
            try:
                return self.personalize.create_batch_inference_job(
                    jobName=name, solutionVersionArn=version_arn, numResults=count,
                    jobInput={"s3DataSource": {"path": input_uri}},
                    jobOutput={"s3DataDestination": {"path": output_uri}},
                    roleArn=role_arn)["batchInferenceJobArn"]
            except ClientError as error:
                if attempt >= IAM_PROPAGATION_RETRIES or not _looks_like_propagation(error):
                    raise
            self.echo(f"  batch inference job {name}: the role's permission is not usable yet; "
                      f"retrying in {IAM_PROPAGATION_DELAY:g}s "
                      f"({attempt}/{IAM_PROPAGATION_RETRIES - 1})")
            self.sleep(IAM_PROPAGATION_DELAY)
            attempt += 1

    def download_output(self, names: ResourceNames, base: str, job_name: str) -> list[str]:
        """The lines the finished job wrote."""
        key = output_key(base, job_name)
        try:
            body = self.s3.get_object(Bucket=names.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
            raise ProvisionError(f"batch inference job {job_name} is ACTIVE, but its output "
                                 f"s3://{names.bucket}/{key} is missing.") from None
        lines = body.decode("utf-8", "replace").splitlines()
        self.echo(f"  s3://{names.bucket}/{key}: downloaded ({len(lines):,} lines)")
        return lines
