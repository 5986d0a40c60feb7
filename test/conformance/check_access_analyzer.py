"""IAM Access Analyzer ValidatePolicy as boto3 sees it: the wire shapes of botocore's
accessanalyzer 2019-11-01 model (findings with issue codes, paths and spans; pagination; errors),
and the issue codes of the IAM User Guide's "IAM Access Analyzer policy check reference"."""
import json
import unittest
import uuid

from plv import Check, client, create_role, error_of, role_session

MODEL = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
ROLE = "arn:aws:iam::123456789012:role/probe"


def policy(**statement):
    base = {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": MODEL}
    base.update(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": [base]}, indent=2)


def validate(document, policy_type="IDENTITY_POLICY", **kwargs):
    return client("accessanalyzer").validate_policy(policyDocument=document, policyType=policy_type, **kwargs)


class Findings(Check):
    def test_clean_identity_and_resource_policies_have_no_findings(self):
        self.assertEqual(validate(policy())["findings"], [])
        self.assertEqual(validate(policy(Principal={"AWS": ROLE}), "RESOURCE_POLICY")["findings"], [])

    # A real response (quoted in public repositories): INVALID_ACTION, "The action … does not exist.",
    # path of {value}/{index} elements, span over the quoted string, 1-based line, 0-based column.
    def test_invalid_action_is_an_error_at_its_string(self):
        doc = policy(Action=["bedrock:InvokeModel", "bedrock:InvokeModle"])
        (finding,) = validate(doc)["findings"]
        self.assertEqual(finding["findingType"], "ERROR")
        self.assertEqual(finding["issueCode"], "INVALID_ACTION")
        self.assertEqual(finding["findingDetails"], "The action bedrock:InvokeModle does not exist.")
        self.assertTrue(finding["learnMoreLink"].endswith("#access-analyzer-reference-policy-checks-error-invalid-action"))
        (loc,) = finding["locations"]
        self.assertEqual(loc["path"], [{"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"index": 1}])
        start, end = loc["span"]["start"], loc["span"]["end"]
        self.assertEqual(doc[start["offset"] : end["offset"]], '"bedrock:InvokeModle"')
        line = doc.split("\n")[start["line"] - 1]
        self.assertTrue(line[start["column"] :].startswith('"bedrock:InvokeModle"'))

    def test_resource_policy_without_principal_and_identity_policy_with_one(self):
        codes = lambda r: [(f["findingType"], f["issueCode"]) for f in r["findings"]]
        self.assertEqual(codes(validate(policy(), "RESOURCE_POLICY")), [("ERROR", "MISSING_PRINCIPAL")])
        self.assertEqual(
            codes(validate(policy(Principal={"AWS": ROLE}), "IDENTITY_POLICY")), [("ERROR", "UNSUPPORTED_PRINCIPAL")]
        )

    def test_json_syntax_error_and_missing_version(self):
        (bad,) = validate('{"Version": "2012-10-17", "Statement": [}')["findings"]
        self.assertEqual(bad["issueCode"], "JSON_SYNTAX_ERROR")
        doc = json.dumps({"Statement": [{"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": MODEL}]})
        (warning,) = validate(doc)["findings"]
        self.assertEqual((warning["findingType"], warning["issueCode"]), ("WARNING", "MISSING_VERSION"))

    def test_condition_operator_and_key(self):
        bad_op = policy(Condition={"StringEqualz": {"aws:SourceVpce": "vpce-1"}})
        self.assertEqual([f["issueCode"] for f in validate(bad_op)["findings"]], ["INVALID_CONDITION_OPERATOR"])
        bad_key = policy(Condition={"StringEquals": {"aws:SourceVpc3": "vpce-1"}})
        self.assertEqual([f["issueCode"] for f in validate(bad_key)["findings"]], ["INVALID_GLOBAL_CONDITION_KEY"])


class Pagination(Check):
    # botocore paginators-1.json: ValidatePolicy pages findings by nextToken / maxResults.
    def test_paginator_walks_every_finding(self):
        doc = policy(Action=["bedrock:A1", "bedrock:A2", "bedrock:A3"])
        pages = list(
            client("accessanalyzer")
            .get_paginator("validate_policy")
            .paginate(policyDocument=doc, policyType="IDENTITY_POLICY", PaginationConfig={"PageSize": 2})
        )
        self.assertEqual([len(p["findings"]) for p in pages], [2, 1])


class Errors(Check):
    # botocore: ValidationException 400 (message, reason, fieldList); AccessDeniedException 403.
    def test_bad_policy_type_is_a_validation_exception(self):
        code, _, status = error_of(validate, "{}", "VPC_ENDPOINT_POLICY")
        self.assertEqual((code, status), ("ValidationException", 400))

    def test_a_role_without_validate_policy_is_refused(self):
        name = f"aa-none-{uuid.uuid4().hex[:8]}"
        create_role(name, {"Service": "lambda.amazonaws.com"}, actions=["sts:GetCallerIdentity"])
        aa = client("accessanalyzer", *role_session(name))
        code, message, status = error_of(aa.validate_policy, policyDocument=policy(), policyType="IDENTITY_POLICY")
        self.assertEqual((code, status), ("AccessDeniedException", 403))
        self.assertIn("access-analyzer:ValidatePolicy", message)

    def test_unknown_key_is_unrecognized_client(self):
        aa = client("accessanalyzer", "AKIAUNKNOWN000000000", "not-a-secret")
        code, _, status = error_of(aa.validate_policy, policyDocument=policy(), policyType="IDENTITY_POLICY")
        self.assertEqual((code, status), ("UnrecognizedClientException", 403))


if __name__ == "__main__":
    unittest.main()
