"""Step Functions validation: roles, idempotency, asynchronous delete, names."""
import json
import unittest
import uuid

from plv import Check, client, create_role, error_of

DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


class Roles(Check):
    # A role that does not exist or does not trust states.amazonaws.com is refused with the message
    # real accounts return (lumigo-io/lumigo-CLI#83, awsdocs/aws-step-functions-developer-guide#23).
    def test_role_must_exist_and_trust_states(self):
        sfn = client("stepfunctions")
        missing = "arn:aws:iam::123456789012:role/does-not-exist"
        lambda_only = create_role(f"lambda-only-{uuid.uuid4().hex[:8]}", {"Service": "lambda.amazonaws.com"})
        for role in (missing, lambda_only):
            with self.subTest(role=role):
                code, message, _ = error_of(
                    sfn.create_state_machine, name=f"sm-{uuid.uuid4().hex[:8]}", definition=DEFINITION, roleArn=role
                )
                self.assertEqual(code, "AccessDeniedException")
                self.assertEqual(
                    message,
                    "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
                )

    # "If a following request has a different roleArn or tags, Step Functions will ignore these
    # differences and treat it as an idempotent request of the previous" (API reference,
    # CreateStateMachine).
    def test_same_name_and_definition_with_another_role_is_idempotent(self):
        sfn = client("stepfunctions")
        suffix = uuid.uuid4().hex[:8]
        a = create_role(f"sm-a-{suffix}", {"Service": "states.amazonaws.com"})
        b = create_role(f"sm-b-{suffix}", {"Service": "states.amazonaws.com"})
        first = sfn.create_state_machine(name=f"idem-{suffix}", definition=DEFINITION, roleArn=a)
        again = sfn.create_state_machine(name=f"idem-{suffix}", definition=DEFINITION, roleArn=b)
        self.assertEqual(first["stateMachineArn"], again["stateMachineArn"])
        self.assertEqual(sfn.describe_state_machine(stateMachineArn=first["stateMachineArn"])["roleArn"], a)


class Lifecycle(Check):
    # DeleteStateMachine marks the machine for deletion: status DELETING until it is gone (API
    # reference, DeleteStateMachine; DescribeStateMachine status enum ACTIVE | DELETING).
    def test_delete_is_asynchronous(self):
        sfn = client("stepfunctions")
        suffix = uuid.uuid4().hex[:8]
        role = create_role(f"sm-del-{suffix}", {"Service": "states.amazonaws.com"})
        arn = sfn.create_state_machine(name=f"del-{suffix}", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        sfn.delete_state_machine(stateMachineArn=arn)
        self.assertEqual(sfn.describe_state_machine(stateMachineArn=arn)["status"], "DELETING")


class Names(Check):
    # Names: 1–80 characters, no whitespace, brackets, wildcards or special characters
    # (API reference, CreateStateMachine: name).
    def test_invalid_names_are_refused(self):
        sfn = client("stepfunctions")
        role = create_role(f"sm-names-{uuid.uuid4().hex[:8]}", {"Service": "states.amazonaws.com"})
        for name in ("a" * 81, "has space", "semi;colon", "star*"):
            with self.subTest(name=name):
                self.assertEqual(
                    error_of(sfn.create_state_machine, name=name, definition=DEFINITION, roleArn=role)[0], "InvalidName"
                )


if __name__ == "__main__":
    unittest.main()
