"""Shared set-up for the boto3 conformance checks: clients for the emulator under test.

The checks run with Debian's python3-boto3 (a client nobody in this project wrote) against the
standalone emulator that conformance.test.ts starts; it passes the URL, the profile and the
documented administrator key pair in the environment.
"""
import os
import unittest

import boto3
from botocore.config import Config

ENDPOINT = os.environ["PLV_ENDPOINT"]
PROFILE = os.environ.get("PLV_PROFILE", "instant")
REGION = os.environ.get("AWS_REGION", "us-east-1")
ADMIN_KEY = os.environ["PLV_ADMIN_ACCESS_KEY_ID"]
ADMIN_SECRET = os.environ["PLV_ADMIN_SECRET_ACCESS_KEY"]

# One attempt: a retry would hide the first answer, which is what a check looks at.
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(service, key=ADMIN_KEY, secret=ADMIN_SECRET, token=None, region=REGION):
    """A boto3 client for one service, signed with the given keys (the administrator by default)."""
    return boto3.session.Session().client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=_CONFIG,
    )


def error_of(fn, *args, **kwargs):
    """Call and return the ClientError's (code, message, HTTP status); fail if the call succeeds."""
    from botocore.exceptions import ClientError

    try:
        fn(*args, **kwargs)
    except ClientError as err:
        e = err.response.get("Error", {})
        return e.get("Code"), e.get("Message"), err.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{getattr(fn, '__name__', fn)} succeeded; expected an error")


class Check(unittest.TestCase):
    """Base class: `self.profile` is the latency profile the emulator runs."""

    profile = PROFILE


def role_session(role_name, session_name="conformance"):
    """Keys for a session of an existing role, issued by the emulator (POST /_emulator/sessions)."""
    import json
    import urllib.request

    req = urllib.request.Request(
        f"{ENDPOINT}/_emulator/sessions",
        data=json.dumps({"roleName": role_name, "sessionName": session_name}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req) as res:
        c = json.loads(res.read())
    return c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]


def create_role(name, trust_principal, actions=(), resource="*", condition=None):
    """A role whose trust policy names one principal ({"Service": ...} or {"AWS": ...}), with an inline policy."""
    import json

    iam = client("iam")
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": trust_principal, "Action": "sts:AssumeRole"}],
            }
        ),
    )
    if actions:
        statement = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
        if condition:
            statement["Condition"] = condition
        iam.put_role_policy(
            RoleName=name,
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
    return f"arn:aws:iam::123456789012:role/{name}"
