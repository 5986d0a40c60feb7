"""EC2's validation as AWS applies it: endpoint policies, security-group revocation.

Each refused request must create nothing, so these checks run on both profiles.
"""
import json
import unittest

from plv import Check, client, error_of

RUNTIME = "com.amazonaws.us-east-1.bedrock-runtime"


def policy(**statement):
    base = {"Effect": "Allow", "Principal": "*", "Action": "bedrock:InvokeModel", "Resource": "*"}
    base.update(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": [{k: v for k, v in base.items() if v is not None}]})


class EndpointPolicyValidation(Check):
    @classmethod
    def setUpClass(cls):
        cls.ec2 = client("ec2")
        cls.vpc = cls.ec2.create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]

    @classmethod
    def tearDownClass(cls):
        cls.ec2.delete_vpc(VpcId=cls.vpc)

    def create(self, doc):
        return error_of(
            self.ec2.create_vpc_endpoint,
            VpcId=self.vpc,
            ServiceName=RUNTIME,
            VpcEndpointType="Interface",
            PrivateDnsEnabled=False,
            PolicyDocument=doc,
        )

    def assertRefused(self, doc, contains):
        code, message, status = self.create(doc)
        self.assertEqual((code, status), ("InvalidPolicyDocument", 400))
        self.assertTrue(message.startswith("The Policy Document is not valid."), message)
        self.assertIn(contains, message)
        left = self.ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])
        self.assertEqual(left["VpcEndpoints"], [])

    def test_malformed_json_is_a_syntax_error_with_its_position(self):
        # "InvalidPolicyDocument: The Policy Document is not valid. Syntax error at position (1,75)"
        # as returned by AWS (hashicorp/terraform-provider-aws#42291).
        self.assertRefused('{"Statement": [', "Syntax error at position")

    def test_a_statement_without_principal_is_refused(self):
        # PrivateLink guide, "Control access to VPC endpoints using endpoint policies":
        # an endpoint policy "must contain a Principal element".
        self.assertRefused(policy(Principal=None), "Principal")

    def test_effect_is_required_and_must_be_allow_or_deny(self):
        # IAM JSON policy element reference, Effect: required, "Allow" or "Deny".
        self.assertRefused(policy(Effect=None), "Effect")
        self.assertRefused(policy(Effect="Maybe"), "effect")

    def test_version_must_be_a_policy_language_version(self):
        # IAM JSON policy element reference, Version: "2012-10-17" or "2008-10-17".
        doc = json.loads(policy())
        doc["Version"] = "2020-01-01"
        self.assertRefused(json.dumps(doc), "Version")

    def test_no_wildcards_with_system_generated_identifier_keys(self):
        # PrivateLink guide: no wildcards (* or ?) or numeric operators with global keys that
        # reference system-generated identifiers (aws:PrincipalAccount, aws:SourceVpc).
        self.assertRefused(policy(Condition={"StringLike": {"aws:SourceVpc": "vpc-*"}}), "aws:SourceVpc")
        self.assertRefused(
            policy(Condition={"StringEquals": {"aws:PrincipalAccount": "1234567890?2"}}), "aws:PrincipalAccount"
        )

    def test_a_policy_over_20480_characters_is_refused(self):
        # PrivateLink guide: "The size of an endpoint policy cannot exceed 20,480 characters".
        doc = json.loads(policy())
        doc["Statement"][0]["Sid"] = "x" * 20480
        self.assertRefused(json.dumps(doc), "20480")

    def test_a_valid_policy_naming_a_role_is_accepted_by_validation(self):
        # Interface endpoints accept a role principal (PrivateLink guide, interface endpoint policies);
        # DryRun answers DryRunOperation only when the request would have succeeded (EC2 API reference).
        code, _, status = error_of(
            self.ec2.create_vpc_endpoint,
            VpcId=self.vpc,
            ServiceName=RUNTIME,
            VpcEndpointType="Interface",
            PrivateDnsEnabled=False,
            PolicyDocument=policy(Principal={"AWS": "arn:aws:iam::123456789012:role/probe"}),
            DryRun=True,
        )
        self.assertEqual((code, status), ("DryRunOperation", 412))


class SecurityGroupRevocation(Check):
    def test_revoke_with_one_unknown_rule_revokes_nothing(self):
        # EC2 API reference, RevokeSecurityGroupIngress / error codes: a permission that does not
        # exist is InvalidPermission.NotFound, and the request is applied all or nothing.
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.92.0.0/16")["Vpc"]["VpcId"]
        try:
            sg = ec2.create_security_group(VpcId=vpc, GroupName="revoke", Description="revoke")["GroupId"]
            known = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.92.1.0/24"}]}
            unknown = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.92.9.0/24"}]}
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[known])
            code, _, status = error_of(ec2.revoke_security_group_ingress, GroupId=sg, IpPermissions=[known, unknown])
            self.assertEqual((code, status), ("InvalidPermission.NotFound", 400))
            # By filter, not by id: a new group may be NotFound by id for a moment (EC2 eventual consistency).
            found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [sg]}])
            group = found["SecurityGroups"][0]
            self.assertEqual([r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]], ["10.92.1.0/24"])
            ec2.delete_security_group(GroupId=sg)
        finally:
            ec2.delete_vpc(VpcId=vpc)


if __name__ == "__main__":
    unittest.main()
