"""Every lifecycle state AWS shows is observable on the instant profile (issue 9 item 4).

On `realistic` these states last the minutes AWS takes (AWS-FACTS: endpoint 60-150 s), too long
for a conformance run: those checks are skipped there.
"""
import json
import time
import unittest

from plv import Check, client, error_of

RUNTIME = "com.amazonaws.us-east-1.bedrock-runtime"
DENY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}
)


def until(probe, ok, seconds=20):
    end = time.time() + seconds
    while True:
        value = probe()
        if ok(value):
            return value
        if time.time() > end:
            raise AssertionError(f"timed out; last {value!r}")
        time.sleep(0.01)


class EndpointLifecycle(Check):
    @unittest.skipUnless(Check.profile == "instant", "realistic endpoints take minutes of real time")
    def test_pending_before_available_deleting_before_gone_and_the_dns_name_kept_while_deleting(self):
        # DescribeVpcEndpoints State: pendingAcceptance | pending | available | deleting | deleted
        # (EC2 API reference, VpcEndpoint). While an endpoint with private DNS is deleting it still
        # owns the name: a second private-DNS endpoint fails InvalidParameter (AWS-FACTS, wave 2).
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        args = dict(VpcId=vpc, ServiceName=RUNTIME, VpcEndpointType="Interface", PrivateDnsEnabled=True)
        ep = ec2.create_vpc_endpoint(PolicyDocument=DENY, **args)["VpcEndpoint"]
        vid = ep["VpcEndpointId"]
        state = lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[vid])["VpcEndpoints"][0]["State"]  # noqa: E731
        self.assertEqual(ep["State"], "pending")
        self.assertEqual(state(), "pending")
        until(state, lambda s: s == "available")
        ec2.delete_vpc_endpoints(VpcEndpointIds=[vid])
        self.assertEqual(state(), "deleting")
        code, message, _ = error_of(ec2.create_vpc_endpoint, **args)
        self.assertEqual(code, "InvalidParameter")
        self.assertIn("conflicting DNS domain", message)
        listed = lambda: ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]  # noqa: E731
        until(listed, lambda eps: eps == [])
        ec2.delete_vpc(VpcId=vpc)


if __name__ == "__main__":
    unittest.main()
