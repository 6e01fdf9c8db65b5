"""The README's IAM policy for the caller allows every AWS call `flask personalize` makes.

Each test replays a command on the test doubles (moto, Stubber) while recording every API call
the provisioning code makes through its boto3 clients, turns each call into the IAM action (and,
for S3 and IAM, the resource) AWS authorizes it as, and checks the README's policy allows it.
So a new call in the code, or a line dropped from the README, fails here.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from provision_support import (
    ACCOUNT,
    BUCKET,
    PREFIX,
    REGION,
    CallRecorder,
    Cli,
    Cloud,
    FakeBatchJob,
    client,
    expect_full_deploy,
    expect_full_teardown,
    expect_metrics,
    expect_new_batch_job,
    expect_status_inventory,
    make_bucket_and_role,
)

from provisioning.provisioner import Provisioner
from provisioning.resources import AwsClients, ResourceNames
from provisioning.upload import PreparedFile

pytest_plugins = ["provision_fixtures"]

README = Path(__file__).resolve().parent.parent / "README.md"
IAM_SECTION = "### IAM permissions the caller needs"

# Operations AWS authorizes under another action name (S3's "actions, resources and condition
# keys" page); any other call is authorized as `service:Operation`.
AUTHORIZED_AS = {
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:DeleteObjects": "s3:DeleteObject",  # per object; with a VersionId, see below
    # upload_file sends files over 8 MB in parts; the parts are authorized as PutObject.
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}  # answers for any valid credentials
BUCKET_OPERATIONS = {"HeadBucket", "CreateBucket", "PutPublicAccessBlock", "PutBucketPolicy",
                     "ListObjectVersions", "ListObjectsV2", "DeleteObjects", "DeleteBucket"}


@dataclass(frozen=True)
class Request:
    """What IAM authorizes: an action on a resource (None: not derived), with condition keys."""

    action: str
    resource: str | None = None
    context: tuple[tuple[str, str], ...] = ()


def authorizations(service: str, operation: str, params: dict[str, Any]) -> list[Request]:
    """The IAM requests one API call needs."""
    call = f"{service}:{operation}"
    if call in NEEDS_NO_PERMISSION:
        return []
    action = AUTHORIZED_AS.get(call, call)
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        if operation == "DeleteObjects":
            keys = params["Delete"]["Objects"]
            return [Request("s3:DeleteObjectVersion" if "VersionId" in key else action,
                            f"{bucket}/{key['Key']}") for key in keys]
        return [Request(action, bucket if operation in BUCKET_OPERATIONS
                        else f"{bucket}/{params['Key']}")]
    if service == "iam":
        return [Request(action, f"arn:aws:iam::{ACCOUNT}:role/{params['RoleName']}")]
    requests = [Request(action)]
    if "roleArn" in params:  # handing a role to a service is iam:PassRole on that role
        requests.append(Request("iam:PassRole", params["roleArn"],
                                (("iam:PassedToService", "personalize.amazonaws.com"),)))
    return requests


# --- The README's policy ---------------------------------------------------------------


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(IAM_SECTION)
    end = text.find("\n## ", start)
    return text[start:end]


def readme_policy() -> dict[str, Any]:
    blocks = re.findall(r"```json\n(.*?)```", readme_section(), re.DOTALL)
    assert len(blocks) == 1, "the IAM section should hold exactly one JSON policy"
    return json.loads(blocks[0])


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in statement.get("Condition", {}).items():
        assert operator == "StringEquals", f"the test cannot evaluate {operator}; teach it"
        for key, values in tests.items():
            if context.get(key) not in as_list(values):
                return False
    return True


def statement_matches(statement: dict[str, Any], request: Request) -> bool:
    # Action names are case-insensitive in IAM; resource ARNs are not.
    if not any(fnmatchcase(request.action.lower(), pattern.lower())
               for pattern in as_list(statement["Action"])):
        return False
    if request.resource is not None and not any(
            fnmatchcase(request.resource, pattern) for pattern in as_list(statement["Resource"])):
        return False
    return conditions_hold(statement, dict(request.context))


def allowed(policy: dict[str, Any], request: Request) -> bool:
    """IAM's rule for one identity policy: an explicit Deny wins, else some Allow must match."""
    matching = [s for s in policy["Statement"] if statement_matches(s, request)]
    return (any(s["Effect"] == "Allow" for s in matching)
            and not any(s["Effect"] == "Deny" for s in matching))


def requests(recorder: CallRecorder) -> list[Request]:
    return [request for service, operation, params in recorder.calls
            for request in authorizations(service, operation, params)]


def refused(recorder: CallRecorder) -> list[Request]:
    policy = readme_policy()
    return sorted({r for r in requests(recorder) if not allowed(policy, r)}, key=str)


# --- The commands' calls against the policy ----------------------------------------------


def test_the_policy_allows_a_full_deploy(cli: Cli, cloud: Cloud, recorder: CallRecorder,
                                         ratings: Path, items: Path) -> None:
    expect_full_deploy(cloud.personalize)

    with recorder.recording():
        result = cli("deploy", "--ratings", str(ratings), "--items", str(items), "--with-sims",
                     "--event-tracker", "--region", REGION)

    assert result.exit_code == 0, result.output
    assert {"s3:CreateBucket", "s3:PutObject", "iam:CreateRole",
            "personalize:CreateCampaign"} <= recorder.operations()  # the run was recorded
    assert refused(recorder) == []


def test_the_policy_allows_a_full_teardown(cli: Cli, cloud: Cloud,
                                           recorder: CallRecorder) -> None:
    make_bucket_and_role(cloud)
    expect_full_teardown(cloud.personalize)

    with recorder.recording():
        result = cli("teardown", "--yes")

    assert result.exit_code == 0, result.output
    assert {"s3:DeleteObjects", "iam:DeleteRole"} <= recorder.operations()
    assert refused(recorder) == []


def test_the_policy_allows_a_batch_job(cli: Cli, cloud: Cloud, recorder: CallRecorder,
                                      tmp_path: Path) -> None:
    make_bucket_and_role(cloud)
    FakeBatchJob(cloud.clients.personalize)  # Personalize's own writes are not the caller's
    expect_new_batch_job(cloud.personalize, "CREATE IN_PROGRESS", "ACTIVE")
    users = tmp_path / "users.txt"
    users.write_text("u1\nu2\n")

    with recorder.recording():
        result = cli("batch", "--users", str(users))

    assert result.exit_code == 0, result.output
    assert {"personalize:ListBatchInferenceJobs", "personalize:CreateBatchInferenceJob",
            "personalize:DescribeBatchInferenceJob", "iam:PutRolePolicy", "s3:PutBucketPolicy",
            "s3:PutObject", "s3:GetObject"} <= recorder.operations()  # the run was recorded
    assert refused(recorder) == []


def test_the_policy_allows_uploads_in_parts_and_their_clean_up(
        aws_credentials: None, tmp_path: Path) -> None:
    """A file over upload_file's 8 MB threshold goes in parts; a failed part aborts the upload."""
    big = tmp_path / "interactions.csv"
    big.write_bytes(b"0" * (9 << 20))
    prepared = PreparedFile(big, {}, rows=1, digest="d")
    names = ResourceNames(PREFIX, ACCOUNT, REGION)
    with mock_aws():
        clients = AwsClients(*(client(name) for name in ("s3", "iam", "sts", "personalize")))
        recorder = CallRecorder()
        recorder.attach(clients.s3)
        steps = Provisioner(clients, echo=lambda *a, **k: None)
        with recorder.recording():
            steps.ensure_bucket(names)
            steps.upload(names, "interactions", prepared, bucket_exists=True)
        clients.s3.meta.events.register("before-call.s3.UploadPart", fail_the_request)
        with recorder.recording(), pytest.raises(Exception, match="InternalError"):
            steps.upload(names, "items", prepared, bucket_exists=True)

    assert {"s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload",
            "s3:AbortMultipartUpload"} <= recorder.operations()
    assert refused(recorder) == []


def fail_the_request(**_: Any) -> tuple[Any, dict[str, Any]]:
    """A before-call answer: S3 failed this request (a dropped part, say)."""
    return AWSResponse(f"https://{BUCKET}.s3.amazonaws.com", 500, {}, None), {
        "Error": {"Code": "InternalError", "Message": "We encountered an internal error"},
        "ResponseMetadata": {"HTTPStatusCode": 500}}


def read_only_actions() -> list[str]:
    """The actions the README says `status` and `metrics` need."""
    bullet = re.search(r"\n- `status` and `metrics` need only(.*?)\n(?:- |\n)", readme_section(),
                       re.DOTALL)
    assert bullet, "the README should say which actions status and metrics need"
    return re.findall(r"`([a-z0-9]+:[A-Za-z*]+)`", bullet.group(1))


def test_status_and_metrics_need_only_the_read_actions_the_readme_names(
        cli: Cli, cloud: Cloud, recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    make_bucket_and_role(cloud)
    expect_status_inventory(cloud.personalize)
    expect_metrics(cloud.personalize)
    monkeypatch.setitem(sys.modules, "recommender.evaluation", None)  # no embedded figures

    with recorder.recording():
        assert cli("status").exit_code == 0
        assert cli("metrics").exit_code == 0

    read_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": read_only_actions(), "Resource": "*"}]}
    assert "personalize:GetSolutionMetrics" in recorder.operations()
    assert [r for r in requests(recorder) if not allowed(read_only, r)] == []
    assert refused(recorder) == []


# --- The checker itself -------------------------------------------------------------------


def test_the_checker_refuses_what_the_policy_does_not_grant() -> None:
    policy = readme_policy()
    bucket, role = f"arn:aws:s3:::{BUCKET}", f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-personalize-x"

    assert allowed(policy, Request("s3:PutObject", f"{bucket}/interactions.csv"))
    assert not allowed(policy, Request("s3:PutObject", "arn:aws:s3:::someone-else/x"))
    assert not allowed(policy, Request("s3:PutBucketAcl", bucket))
    assert not allowed(policy, Request("iam:PassRole", role))  # without the condition
    assert allowed(policy, Request("iam:PassRole", role,
                                   (("iam:PassedToService", "personalize.amazonaws.com"),)))
    assert not allowed(policy, Request("iam:PassRole", role,
                                       (("iam:PassedToService", "ec2.amazonaws.com"),)))
