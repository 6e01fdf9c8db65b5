"""The error provisioning raises when a step cannot go on, and how AWS's errors are read."""

from __future__ import annotations

from botocore.exceptions import ClientError

# Quoted by messages that tell people how to stop what deploy made.
TEARDOWN_COMMAND = "flask --app app personalize teardown"


class ProvisionError(Exception):
    """A step that cannot go on; the message says what happened and what to do."""


def aws_error_message(error: ClientError) -> str:
    return error.response["Error"].get("Message", "")
