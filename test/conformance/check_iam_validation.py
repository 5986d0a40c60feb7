"""IAM's own validation: names and tags longer than the API allows, in IAM's words.

botocore validates only minimum lengths on the client, so over-long values reach the service,
which answers the awsQuery ValidationError "1 validation error detected: Value '…' at '<member>'
failed to satisfy constraint: Member must have length less than or equal to <max>" (IAM API
reference: RoleName 1-64, PolicyName 1-128, Tag Key 1-128, Tag Value 0-256; the full XML answer
for a too-long roleName is quoted from a real account in NixOS/nixops#328).
"""
import json
import unittest

from plv import Check, client, error_of

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]})


class IamValidation(Check):
    def test_a_role_name_over_64_characters_names_the_length_limit(self):
        code, message, status = error_of(client("iam").create_role, RoleName="r" * 65, AssumeRolePolicyDocument=TRUST)
        self.assertEqual((code, status), ("ValidationError", 400))
        self.assertIn("at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64", message)

    def test_a_policy_name_over_128_characters_names_the_length_limit(self):
        iam = client("iam")
        iam.create_role(RoleName="conformance-length", AssumeRolePolicyDocument=TRUST)
        code, message, _ = error_of(
            iam.put_role_policy, RoleName="conformance-length", PolicyName="p" * 129, PolicyDocument=POLICY
        )
        self.assertEqual(code, "ValidationError")
        self.assertIn("Member must have length less than or equal to 128", message)
        self.assertNotIn("regular expression", message)

    def test_a_tag_key_over_128_characters_names_the_length_limit(self):
        code, message, _ = error_of(
            client("iam").create_role,
            RoleName="conformance-tagged",
            AssumeRolePolicyDocument=TRUST,
            Tags=[{"Key": "k" * 129, "Value": "v"}],
        )
        self.assertEqual(code, "ValidationError")
        self.assertIn("Member must have length less than or equal to 128", message)


if __name__ == "__main__":
    unittest.main()
