"""IAM authorization of every call: identity policies, tag conditions, boundaries, SCPs, with each
service's AccessDenied and AWS's message template."""
import json
import unittest
import urllib.request
import uuid

from plv import ENDPOINT, Check, client, create_role, error_of, role_session


def session(actions, resource="*", condition=None):
    name = f"authz-{uuid.uuid4().hex[:8]}"
    create_role(name, {"Service": "lambda.amazonaws.com"}, actions, resource, condition)
    return name, role_session(name, "fn")


class IdentityPolicies(Check):
    # "User: <arn> is not authorized to perform: <action> on resource: <arn> because no
    # identity-based policy allows the <action> action" (IAM User Guide, "Troubleshoot access
    # denied error messages"); EC2 prefixes "You are not authorized to perform this operation."
    # and appends an encoded message (EC2 API reference, "Error codes": UnauthorizedOperation).
    def test_missing_action_is_the_services_access_denied_with_the_message(self):
        name, keys = session(["ec2:DescribeVpcs"])
        who = f"arn:aws:sts::123456789012:assumed-role/{name}/fn"
        client("ec2", *keys).describe_vpcs()
        code, message, status = error_of(client("iam", *keys).list_roles)
        self.assertEqual((code, status), ("AccessDenied", 403))
        self.assertEqual(
            message,
            f"User: {who} is not authorized to perform: iam:ListRoles on resource: * because no identity-based policy allows the iam:ListRoles action",
        )
        code, message, status = error_of(client("ec2", *keys).describe_subnets)
        self.assertEqual((code, status), ("UnauthorizedOperation", 403))
        self.assertTrue(message.startswith("You are not authorized to perform this operation. "))
        self.assertIn("Encoded authorization failure message: ", message)
        code, _, status = error_of(client("lambda", *keys).list_functions)
        self.assertEqual((code, status), ("AccessDeniedException", 403))
        code, _, status = error_of(client("stepfunctions", *keys).list_state_machines)
        self.assertEqual((code, status), ("AccessDeniedException", 400))


class TagConditions(Check):
    # A Create with TagSpecifications is authorized on the new resource with aws:RequestTag, and
    # ec2:CreateTags with ec2:CreateAction (EC2 User Guide, "Grant permission to tag resources
    # during creation").
    def test_create_requires_the_request_tag_the_policy_names(self):
        name = f"tagger-{uuid.uuid4().hex[:8]}"
        iam = client("iam")
        create_role(name, {"Service": "lambda.amazonaws.com"})
        iam.put_role_policy(
            RoleName=name,
            PolicyName="p",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "ec2:CreateVpc",
                            "Resource": "arn:aws:ec2:us-east-1:123456789012:vpc/*",
                            "Condition": {"StringEquals": {"aws:RequestTag/run": "r1"}},
                        },
                        {
                            "Effect": "Allow",
                            "Action": "ec2:CreateTags",
                            "Resource": "*",
                            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVpc"}},
                        },
                    ],
                }
            ),
        )
        ec2 = client("ec2", *role_session(name))
        spec = lambda v: [{"ResourceType": "vpc", "Tags": [{"Key": "run", "Value": v}]}]  # noqa: E731
        vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16", TagSpecifications=spec("r1"))["Vpc"]["VpcId"]
        client("ec2").delete_vpc(VpcId=vpc)
        code, message, _ = error_of(ec2.create_vpc, CidrBlock="10.78.0.0/16", TagSpecifications=spec("r2"))
        self.assertEqual(code, "UnauthorizedOperation")
        self.assertIn("ec2:CreateVpc on resource: arn:aws:ec2:us-east-1:123456789012:vpc/*", message)


class PrivateDns(Check):
    # Private DNS on an interface endpoint also needs route53:AssociateVPCWithHostedZone
    # (hasura/ddn-docs#1075); the refusal names that action (mattclay/aws-terminator#261 quotes
    # "is not authorized to perform: route53:AssociateVPCWithHostedZone on resource: ...hostedzone/...").
    def test_private_dns_needs_route53_association_and_without_it_the_endpoint_is_allowed(self):
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
        _, keys = session(["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"])
        mine = client("ec2", *keys)
        service = "com.amazonaws.us-east-1.bedrock-runtime"
        code, message, status = error_of(
            mine.create_vpc_endpoint, VpcId=vpc, ServiceName=service, VpcEndpointType="Interface", SubnetIds=[subnet]
        )
        self.assertEqual((code, status), ("UnauthorizedOperation", 403))
        self.assertIn("route53:AssociateVPCWithHostedZone", message)
        self.assertEqual(ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"], [])
        made = mine.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=service,
            VpcEndpointType="Interface",
            SubnetIds=[subnet],
            PrivateDnsEnabled=False,
        )["VpcEndpoint"]
        self.assertFalse(made["PrivateDnsEnabled"])
        mine.delete_vpc_endpoints(VpcEndpointIds=[made["VpcEndpointId"]])


class Boundary(Check):
    # The effective permissions are the intersection of identity policy and permissions boundary
    # (IAM User Guide, "Permissions boundaries for IAM entities").
    def test_boundary_limits_the_identity_policy(self):
        name, keys = session(["ec2:*", "iam:*"])
        iam = client("iam")
        arn = iam.create_policy(
            PolicyName=f"only-ec2-{name}",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}
            ),
        )["Policy"]["Arn"]
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=arn)
        client("ec2", *keys).describe_vpcs()
        code, message, _ = error_of(client("iam", *keys).list_roles)
        self.assertEqual(code, "AccessDenied")
        self.assertIn("because no permissions boundary allows the iam:ListRoles action", message)


class ServiceControlPolicies(Check):
    # SCPs limit every principal of a member account, its root user included (AWS Organizations
    # User Guide, "Service control policies").
    def _set_scps(self, scps):
        req = urllib.request.Request(
            f"{ENDPOINT}/_emulator/config",
            data=json.dumps({"world": {"serviceControlPolicies": scps}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(req).read()

    def test_an_scp_deny_binds_the_root_user(self):
        self._set_scps(
            [
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "*", "Resource": "*"},
                        {"Effect": "Deny", "Action": "lambda:ListFunctions", "Resource": "*"},
                    ],
                }
            ]
        )
        try:
            code, message, status = error_of(client("lambda").list_functions)
            self.assertEqual((code, status), ("AccessDeniedException", 403))
            self.assertIn("with an explicit deny in a service control policy", message)
            client("ec2").describe_vpcs()
        finally:
            self._set_scps([])


if __name__ == "__main__":
    unittest.main()
