"""Credentials: only keys the emulator issued, signed with their secret; root cannot assume roles;
trust policies decide AssumeRole."""
import json
import unittest
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import urllib.request

from plv import ENDPOINT, REGION, Check, client, create_role, error_of, role_session

UNKNOWN = ("AKIAUNKNOWN000000000", "not-a-secret")


class UnknownKeys(Check):
    # Real responses: EC2 AuthFailure 401 (hashicorp/terraform#17273); STS/IAM InvalidClientTokenId
    # 403 (Skyscanner/LambdaGuard#32); Lambda UnrecognizedClientException 403 (iann0036/iamlive#58);
    # awsJson services 400 (aws-azure-login/aws-azure-login#37).
    def test_unknown_key_is_refused_by_every_service_with_its_own_code_and_status(self):
        cases = [
            ("ec2", lambda c: c.describe_vpcs(), "AuthFailure", 401),
            ("iam", lambda c: c.list_roles(), "InvalidClientTokenId", 403),
            ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId", 403),
            ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException", 403),
            ("stepfunctions", lambda c: c.list_state_machines(), "UnrecognizedClientException", 400),
        ]
        for service, call, code, status in cases:
            with self.subTest(service=service):
                got = error_of(call, client(service, *UNKNOWN))
                self.assertEqual((got[0], got[2]), (code, status))

    def test_unknown_key_on_bedrock_runtime_is_unrecognized_client(self):
        # botocore 1.29 has no bedrock-runtime model: sign by hand (SigV4, service "bedrock").
        body = json.dumps({"inputText": "hi"}).encode()
        url = f"{ENDPOINT}/model/amazon.titan-text-express-v1/invoke"
        req = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json"})
        SigV4Auth(Credentials(*UNKNOWN), "bedrock", REGION).add_auth(req)
        r = urllib.request.Request(url, data=body, headers=dict(req.headers), method="POST")
        try:
            urllib.request.urlopen(r)
            self.fail("expected a refusal")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 403)
            self.assertEqual(e.headers.get("x-amzn-errortype"), "UnrecognizedClientException")


class WrongSecret(Check):
    # "The request signature we calculated does not match the signature you provided" with
    # SignatureDoesNotMatch on query services, EC2 included (aws/aws-cli#135), and
    # InvalidSignatureException on JSON services (aws/aws-sdk-js#168).
    def test_admin_key_with_a_wrong_secret_is_refused(self):
        from plv import ADMIN_KEY

        self.assertEqual(error_of(client("sts", ADMIN_KEY, "wrong").get_caller_identity)[0], "SignatureDoesNotMatch")
        self.assertEqual(error_of(client("ec2", ADMIN_KEY, "wrong").describe_vpcs)[0], "SignatureDoesNotMatch")
        code, _, status = error_of(client("lambda", ADMIN_KEY, "wrong").list_functions)
        self.assertEqual((code, status), ("InvalidSignatureException", 403))


class AssumeRole(Check):
    # AWS refuses role sessions to the root user: "Roles may not be assumed by root accounts."
    # (real response quoted in kubeflow/testing#961).
    def test_root_cannot_assume_a_role(self):
        arn = create_role(f"root-target-{uuid.uuid4().hex[:8]}", {"AWS": "arn:aws:iam::123456789012:root"})
        code, message, status = error_of(client("sts").assume_role, RoleArn=arn, RoleSessionName="root-session")
        self.assertEqual((code, message, status), ("AccessDenied", "Roles may not be assumed by root accounts.", 403))

    # The trust policy decides (IAM User Guide, "How IAM roles differ from resource-based policies";
    # AccessDenied "User: … is not authorized to perform: sts:AssumeRole on resource: …").
    def test_trust_policy_decides_for_a_role_session(self):
        suffix = uuid.uuid4().hex[:8]
        caller = create_role(f"caller-{suffix}", {"Service": "lambda.amazonaws.com"})
        trusted = create_role(f"trusted-{suffix}", {"AWS": caller})
        untrusted = create_role(f"untrusted-{suffix}", {"Service": "lambda.amazonaws.com"})
        sts = client("sts", *role_session(f"caller-{suffix}", "fn"))
        out = sts.assume_role(RoleArn=trusted, RoleSessionName="ok")
        self.assertEqual(out["AssumedRoleUser"]["Arn"], f"arn:aws:sts::123456789012:assumed-role/trusted-{suffix}/ok")
        code, message, status = error_of(sts.assume_role, RoleArn=untrusted, RoleSessionName="no")
        self.assertEqual((code, status), ("AccessDenied", 403))
        self.assertIn(f"is not authorized to perform: sts:AssumeRole on resource: {untrusted}", message)


if __name__ == "__main__":
    unittest.main()
