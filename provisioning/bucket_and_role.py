"""The S3 bucket holding the uploaded files, and the IAM role Personalize reads them with.

The bucket blocks public access, and its policy grants Personalize read access (it restricts
no one: identities of this account still read it as their own IAM policies allow); only
Personalize, acting for this account in this region, may assume the role.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from provisioning.errors import TEARDOWN_COMMAND, ProvisionError
from provisioning.resources import ResourceNames, ResourceSteps
from provisioning.upload import PreparedFile

READ_POLICY_NAME = "read-training-bucket"


def _bucket_arns(bucket: str, partition: str) -> list[str]:
    return [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"]


def bucket_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """Grants the Personalize service read access to the bucket, and nothing more."""
    return {"Version": "2012-10-17", "Id": "PersonalizeS3BucketAccessPolicy", "Statement": [{
        "Sid": "PersonalizeS3BucketAccessPolicy", "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": _bucket_arns(bucket, partition),
    }]}


def role_trust_policy(account: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """Only Personalize, acting for this account in this region, may assume the role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": ["personalize.amazonaws.com"]},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:{partition}:personalize:{region}:{account}:*"},
        },
    }]}


def bucket_read_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """The role's only permission: read this one bucket."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": _bucket_arns(bucket, partition),
    }]}


class BucketAndRoleSteps(ResourceSteps):
    """Create, find and delete the bucket and the role."""

    def ensure_bucket(self, names: ResourceNames) -> bool:
        """Make sure the bucket exists, private and readable by Personalize.

        Returns whether it exists (False only on a dry run that would create it).
        """
        if self._bucket_exists(names):
            self.echo(f"  S3 bucket {names.bucket}: exists")
        elif self.dry_run:
            self.echo(f"  S3 bucket {names.bucket}: will be created (private)")
            return False
        else:
            # us-east-1 is the one region S3 rejects as a LocationConstraint.
            location = ({} if names.region == "us-east-1"
                        else {"CreateBucketConfiguration": {"LocationConstraint": names.region}})
            self.s3.create_bucket(Bucket=names.bucket, **location)
            self.echo(f"  S3 bucket {names.bucket}: created")
        if not self.dry_run:
            # Re-applied on every run: an interruption right after create_bucket must not leave
            # the bucket without them.
            self.s3.put_public_access_block(Bucket=names.bucket, PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
            policy = bucket_policy(names.bucket, names.partition)
            self.s3.put_bucket_policy(Bucket=names.bucket, Policy=json.dumps(policy))
        return True

    def _bucket_exists(self, names: ResourceNames) -> bool:
        try:
            self.s3.head_bucket(Bucket=names.bucket, ExpectedBucketOwner=names.account)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("404", "NoSuchBucket"):
                return False
            if code in ("403", "AccessDenied"):
                raise ProvisionError(
                    f"The bucket name {names.bucket} is owned by another account (or you may "
                    "not read it); choose another --name.") from None
            raise
        return True

    def upload(self, names: ResourceNames, dataset_type: str, prepared: PreparedFile,
               bucket_exists: bool) -> None:
        """Upload the prepared CSV unless the same bytes are already there."""
        uri, key = names.s3_uri(dataset_type), names.s3_key(dataset_type)
        current = self._uploaded_digest(names.bucket, key) if bucket_exists else None
        if current == prepared.digest:
            self.echo(f"  {uri}: up to date ({prepared.rows:,} rows)")
            return
        if current is not None:
            self.echo(f"  {uri}: the file changed since the last upload. Deploy keeps what is "
                      f"already imported and trained; to train on the new data, run "
                      f"{TEARDOWN_COMMAND} and deploy again.")
        if self.dry_run:
            self.echo(f"  {uri}: will be uploaded ({prepared.rows:,} rows)")
            return
        self.s3.upload_file(str(prepared.path), names.bucket, key, ExtraArgs={
            "ContentType": "text/csv", "Metadata": {"sha256": prepared.digest}})
        self.echo(f"  {uri}: uploaded ({prepared.rows:,} rows)")

    def _uploaded_digest(self, bucket: str, key: str) -> str | None:
        try:
            return self.s3.head_object(Bucket=bucket, Key=key)["Metadata"].get("sha256", "")
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise

    def ensure_role(self, names: ResourceNames) -> str | None:
        """The role Personalize assumes to read the bucket; its ARN (None on a dry run)."""
        try:
            arn = self.iam.get_role(RoleName=names.role)["Role"]["Arn"]
            self.echo(f"  IAM role {names.role}: exists")
        except self.iam.exceptions.NoSuchEntityException:
            if self.dry_run:
                self.echo(f"  IAM role {names.role}: will be created (reads {names.bucket} only)")
                return None
            trust = role_trust_policy(names.account, names.region, names.partition)
            arn = self.iam.create_role(
                RoleName=names.role, AssumeRolePolicyDocument=json.dumps(trust),
                Description=f"Lets Amazon Personalize read s3://{names.bucket}",
            )["Role"]["Arn"]
            self.echo(f"  IAM role {names.role}: created")
        if not self.dry_run:
            self.iam.put_role_policy(
                RoleName=names.role, PolicyName=READ_POLICY_NAME,
                PolicyDocument=json.dumps(bucket_read_policy(names.bucket, names.partition)))
        return arn

    def _role_exists(self, role: str) -> bool:
        try:
            self.iam.get_role(RoleName=role)
        except self.iam.exceptions.NoSuchEntityException:
            return False
        return True

    def _delete_role(self, role: str) -> None:
        iam = self.iam
        try:
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
                for policy in page["PolicyNames"]:
                    iam.delete_role_policy(RoleName=role, PolicyName=policy)
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
                for policy in page["AttachedPolicies"]:
                    iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
            iam.delete_role(RoleName=role)
        except iam.exceptions.NoSuchEntityException:
            self.echo(f"  IAM role {role}: already gone")
            return
        self.echo(f"  IAM role {role}: deleted")

    def _delete_bucket(self, bucket: str) -> None:
        """Delete every object version and delete marker, then the bucket."""
        try:
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
                keys = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
                for start in range(0, len(keys), 1000):  # delete_objects takes 1000 at most
                    result = self.s3.delete_objects(
                        Bucket=bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
                    if result.get("Errors"):
                        first = result["Errors"][0]
                        raise ProvisionError(f"Could not delete s3://{bucket}/{first['Key']}: "
                                             f"{first.get('Message', first.get('Code'))}")
            self.s3.delete_bucket(Bucket=bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucket":
                raise
            self.echo(f"  S3 bucket {bucket}: already gone")
            return
        self.echo(f"  S3 bucket {bucket}: deleted with its objects")
