"""Bedrock runtime operations under a client nobody in this project wrote: each operation is
authorized as its own IAM action, and the streams are the AWS event stream encoding.

Debian's botocore (1.29) predates Bedrock entirely: it has no bedrock-runtime model, so it knows
none of invoke_model_with_response_stream, converse_stream or count_tokens. The requests are
signed by hand with botocore's SigV4 (service "bedrock", as check_credentials.py does) and the
streams are decoded with botocore's own event stream parser (botocore.eventstream, written for S3
SelectObjectContent), which verifies the prelude and message CRCs: an independent reader of the
framing the emulator writes.
"""
import base64
import json
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from plv import ENDPOINT, REGION, Check, create_role, role_session

# Claude 3.5 Sonnet counts tokens (Bedrock User Guide, "Monitor your token usage by counting tokens
# before running inference").
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MODEL_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}"
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]

# Operation → (URL path tail, request body, the IAM action it is authorized as). Paths from the
# Bedrock Runtime API reference; actions from its "requires permissions to perform" lines and the
# Bedrock User Guide on Converse.
OPERATIONS = {
    "InvokeModel": ("invoke", BODY, "bedrock:InvokeModel"),
    "Converse": ("converse", {"messages": MESSAGES}, "bedrock:InvokeModel"),
    "InvokeModelWithResponseStream": ("invoke-with-response-stream", BODY, "bedrock:InvokeModelWithResponseStream"),
    "ConverseStream": ("converse-stream", {"messages": MESSAGES}, "bedrock:InvokeModelWithResponseStream"),
    "CountTokens": ("count-tokens", {"input": {"converse": {"messages": MESSAGES}}}, "bedrock:CountTokens"),
}


def send(keys, operation):
    """POST one signed runtime call; (status, headers, body bytes)."""
    tail, body, _ = OPERATIONS[operation]
    data = json.dumps(body).encode()
    url = f"{ENDPOINT}/model/{urllib.parse.quote(MODEL, safe='')}/{tail}"
    req = AWSRequest(method="POST", url=url, data=data, headers={"content-type": "application/json"})
    SigV4Auth(Credentials(*keys), "bedrock", REGION).add_auth(req)
    r = urllib.request.Request(url, data=data, headers=dict(req.headers), method="POST")
    try:
        with urllib.request.urlopen(r) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def events(raw):
    """Decode an event stream with botocore's parser (CRCs checked); [(headers, payload)]."""
    buf = EventStreamBuffer()
    buf.add_data(raw)
    return [(m.headers, json.loads(m.payload)) for m in buf]


def role_allowing(actions):
    name = f"actions-{uuid.uuid4().hex[:8]}"
    create_role(name, {"Service": "lambda.amazonaws.com"}, actions=actions)
    return role_session(name, "probe"), name


class EachOperationItsOwnAction(Check):
    def test_an_identity_policy_allowing_only_invoke_model_refuses_the_streams_and_count_tokens(self):
        keys, name = role_allowing(["bedrock:InvokeModel"])
        for operation, (_, _, action) in OPERATIONS.items():
            with self.subTest(operation=operation):
                status, headers, body = send(keys, operation)
                if action == "bedrock:InvokeModel":
                    self.assertEqual(status, 200)
                    continue
                # A plain HTTP refusal before any stream (rest-json error: x-amzn-errortype + JSON message).
                self.assertEqual(status, 403)
                self.assertEqual(headers.get("x-amzn-errortype"), "AccessDeniedException")
                self.assertTrue(headers.get("content-type").startswith("application/json"))
                self.assertEqual(
                    json.loads(body)["message"],
                    f"User: arn:aws:sts::123456789012:assumed-role/{name}/probe is not authorized to perform: "
                    f"{action} on resource: {MODEL_ARN} because no identity-based policy allows the {action} action",
                )

    def test_invoke_model_with_response_stream_is_an_event_stream_of_chunks_that_ends(self):
        keys, _ = role_allowing(["bedrock:InvokeModelWithResponseStream"])
        status, headers, raw = send(keys, "InvokeModelWithResponseStream")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "application/vnd.amazon.eventstream")
        self.assertEqual(headers.get("x-amzn-bedrock-content-type"), "application/json")
        decoded = events(raw)
        self.assertGreater(len(decoded), 3)
        for h, _ in decoded:
            self.assertEqual((h[":message-type"], h[":event-type"]), ("event", "chunk"))
        chunks = [json.loads(base64.b64decode(p["bytes"])) for _, p in decoded]
        self.assertEqual(chunks[0]["type"], "message_start")
        self.assertEqual(chunks[-1]["type"], "message_stop")
        text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
        self.assertIn('You said: "hi"', text)

    def test_converse_stream_sends_the_converse_events_in_order(self):
        keys, _ = role_allowing(["bedrock:InvokeModelWithResponseStream"])
        status, headers, raw = send(keys, "ConverseStream")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "application/vnd.amazon.eventstream")
        kinds = [h[":event-type"] for h, _ in events(raw)]
        self.assertEqual(kinds[0], "messageStart")
        self.assertEqual(kinds[-3:], ["contentBlockStop", "messageStop", "metadata"])
        self.assertTrue(all(k == "contentBlockDelta" for k in kinds[1:-3]))

    def test_count_tokens_answers_input_tokens(self):
        keys, _ = role_allowing(["bedrock:CountTokens"])
        status, _, body = send(keys, "CountTokens")
        self.assertEqual(status, 200)
        self.assertGreater(json.loads(body)["inputTokens"], 0)


if __name__ == "__main__":
    unittest.main()
