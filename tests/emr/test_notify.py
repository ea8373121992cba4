"""Notifiers against loopback servers: a webhook, an SMTP server, and moto SNS for the plug-in."""

import email
import json
import socketserver
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from jeeves import notify, notify_sms
from tests.emr.conftest import client

SUMMARY = {"run_id": "r1", "status": "ok", "processed": ["2026-11-16"], "recovered": [],
           "flagged": 2}
FLAGGED = [{"message_id": "a@x", "score": 0.91, "label": 1, "partition": "2026-11-16"},
           {"message_id": "b@x", "score": 0.75, "label": 1, "partition": "2026-11-16"}]


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((self.headers["Content-Type"], self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    serve(server)
    yield "http://127.0.0.1:%d/hook" % server.server_address[1], received
    server.shutdown()
    server.server_close()


class SMTPStub(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message: the envelope and the data are kept."""

    def reply(self, line):
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self):
        envelope = {"rcpt": []}
        self.reply("220 stub")
        while True:
            line = self.rfile.readline().decode("ascii").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 stub")
            elif verb == "MAIL":
                envelope["from"] = line.split(":", 1)[1].strip(" <>")
                self.reply("250 ok")
            elif verb == "RCPT":
                envelope["rcpt"].append(line.split(":", 1)[1].strip(" <>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                lines = []
                raw = self.rfile.readline()
                # a closed connection (b"") ends the data too, never a busy loop
                while raw not in (b".\r\n", b""):
                    lines.append(raw[1:] if raw.startswith(b"..") else raw)
                    raw = self.rfile.readline()
                envelope["data"] = b"".join(lines)
                self.server.messages.append(envelope)
                self.reply("250 queued")
            elif verb == "QUIT" or not line:
                self.reply("221 bye")
                return
            else:
                self.reply("502 not here")


@pytest.fixture
def smtp_server():
    server = socketserver.TCPServer(("127.0.0.1", 0), SMTPStub)
    server.messages = []
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_posts_the_summary_and_flagged_mail(webhook):
    url, received = webhook
    notify.notifier_from_spec(url).notify(SUMMARY, FLAGGED)
    assert len(received) == 1
    content_type, body = received[0]
    assert content_type == "application/json"
    assert json.loads(body) == {"summary": SUMMARY, "flagged": FLAGGED}


def test_email_lists_the_flagged_mail(smtp_server):
    port = smtp_server.server_address[1]
    spec = "smtp://127.0.0.1:%d?from=jeeves@example.com&to=me@example.com,you@example.com" % port
    notify.notifier_from_spec(spec).notify(SUMMARY, FLAGGED)
    [sent] = smtp_server.messages
    assert sent["from"] == "jeeves@example.com"
    assert sent["rcpt"] == ["me@example.com", "you@example.com"]
    message = email.message_from_bytes(sent["data"], policy=policy.default)
    assert message["Subject"] == "jeeves: ok, 2 flagged (2026-11-16)"
    text = message.get_content()
    assert "a@x" in text and "b@x" in text and "0.910" in text


def test_summary_text_says_why_a_run_failed_and_cuts_long_lists():
    failed = dict(SUMMARY, status="failed", error="partition 2026-11-17: boom", processed=[])
    text = notify.summary_text(failed, FLAGGED * 3, limit=4)
    assert "failed" in text and "boom" in text and "processed: none" in text
    assert "... and 2 more" in text


def test_sms_plugin_publishes_through_sns(aws_env):
    sns = client("sns", aws_env)
    topic = sns.create_topic(Name="jeeves-alerts")["TopicArn"]
    queue_client = client("sqs", aws_env)
    queue = queue_client.create_queue(QueueName="jeeves-alerts-copy")["QueueUrl"]
    queue_arn = queue_client.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    spec = "python:jeeves.notify_sms:SMSNotifier?topic=%s" % topic
    notifier = notify.notifier_from_spec(spec)
    # the plug-in builds its own client; point it at the moto server
    notifier.client = sns
    notifier.notify(SUMMARY, FLAGGED)
    [delivered] = queue_client.receive_message(QueueUrl=queue)["Messages"]
    assert delivered["Body"] == "jeeves ok: 2 flagged a@x b@x"


def test_sms_text_fits_one_message():
    many = [dict(FLAGGED[0], message_id="m%03d@example.com" % i, score=i / 100)
            for i in range(100)]
    text = notify_sms.sms_text(SUMMARY, many)
    assert len(text) <= notify_sms.SMS_LIMIT
    assert text.startswith("jeeves ok: 100 flagged m099@example.com m098@example.com")


@pytest.mark.parametrize("spec", ["ftp://x", "smtp://host?to=a@b", "python:nosuchmodule:F",
                                  "python:jeeves.notify"])
def test_bad_specs_are_value_errors(spec):
    with pytest.raises(ValueError):
        notify.notifier_from_spec(spec)
