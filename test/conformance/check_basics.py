"""Basics any client relies on: identity of the administrator and the region's zones."""
import unittest

from plv import Check, client


class Basics(Check):
    def test_administrator_identity_is_the_account_root(self):
        # GetCallerIdentity returns Account, Arn, UserId (STS API reference, GetCallerIdentity).
        me = client("sts").get_caller_identity()
        self.assertEqual(me["Account"], "123456789012")

    def test_availability_zones_are_listed_as_available(self):
        # DescribeAvailabilityZones: State "available" for zones in service (EC2 API reference).
        zones = client("ec2").describe_availability_zones()["AvailabilityZones"]
        self.assertGreaterEqual(len(zones), 2)
        self.assertTrue(all(z["State"] == "available" for z in zones))


if __name__ == "__main__":
    unittest.main()
