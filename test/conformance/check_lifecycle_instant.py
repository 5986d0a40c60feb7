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


def _handler_zip():
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.js", "exports.handler = async () => ({ ok: true });\n")
    return buf.getvalue()


class FunctionLifecycle(Check):
    @unittest.skipUnless(Check.profile == "instant", "realistic VPC functions take minutes of real time")
    def test_vpc_function_pending_before_active_update_in_progress_before_successful_enis_in_use_after_delete(self):
        # FunctionConfiguration.State: Pending | Active | Inactive | Failed, and LastUpdateStatus:
        # InProgress | Successful | Failed (Lambda API reference, FunctionConfiguration; Lambda
        # Developer Guide, "Lambda function states"). A VPC function's hyperplane ENIs outlive the
        # function and are detached and deleted by Lambda later (AWS-FACTS: ~4 min to detach).
        from plv import create_role

        ec2 = client("ec2")
        lam = client("lambda")
        vpc = ec2.create_vpc(CidrBlock="10.94.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.94.1.0/24")["Subnet"]["SubnetId"]
        sg = ec2.create_security_group(VpcId=vpc, GroupName="fn", Description="fn")["GroupId"]
        role = create_role(
            "conformance-vpc-fn",
            {"Service": "lambda.amazonaws.com"},
            ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"],
        )
        create = dict(
            FunctionName="conformance-vpc-fn",
            Runtime="nodejs22.x",
            Handler="index.handler",
            Role=role,
            Code={"ZipFile": _handler_zip()},
            VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [sg]},
        )

        def created():
            # A brand-new role is not assumable by Lambda for a few seconds (IAM eventual consistency).
            from botocore.exceptions import ClientError

            try:
                return lam.create_function(**create)
            except ClientError as err:
                if "cannot be assumed by Lambda" in str(err):
                    return None
                raise

        fn = until(created, lambda f: f is not None)
        self.assertEqual(fn["State"], "Pending")
        config = lambda: lam.get_function_configuration(FunctionName="conformance-vpc-fn")  # noqa: E731
        self.assertEqual(config()["State"], "Pending")
        until(config, lambda c: c["State"] == "Active")
        # A network change is the update a client must wait for (minutes on AWS; quick updates of
        # settings like Timeout finish within a second and need no wait).
        sg2 = ec2.create_security_group(VpcId=vpc, GroupName="fn2", Description="fn2")["GroupId"]
        updated = lam.update_function_configuration(
            FunctionName="conformance-vpc-fn", VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [sg2]}
        )
        self.assertEqual(updated["LastUpdateStatus"], "InProgress")
        self.assertEqual(config()["LastUpdateStatus"], "InProgress")
        until(config, lambda c: c["LastUpdateStatus"] == "Successful")
        enis = lambda: ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])[  # noqa: E731
            "NetworkInterfaces"
        ]
        current = [e for e in enis() if [g["GroupId"] for g in e["Groups"]] == [sg2]]
        self.assertTrue(current)
        self.assertTrue(all(e["Status"] == "in-use" for e in current))
        lam.delete_function(FunctionName="conformance-vpc-fn")
        left = enis()
        self.assertTrue(left, "the ENIs vanished with the function")
        self.assertTrue(all(e["Description"].startswith("AWS Lambda VPC ENI") for e in left))
        self.assertEqual(error_of(ec2.delete_subnet, SubnetId=subnet)[0], "DependencyViolation")


if __name__ == "__main__":
    unittest.main()
