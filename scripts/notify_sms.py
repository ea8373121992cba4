"""Example notifier plug-in: a text message through Amazon SNS.

The seed project texted its author when a run flagged mail. Load it with

    jeeves schedule ... --notify 'python:jeeves.notify_sms:SMSNotifier?phone=+15555550123'

or ``topic=arn:aws:sns:...`` to publish to a topic instead of one phone.
Credentials and region come from the environment or the instance profile
(boto3's usual chain), never from the spec. A text is short: the status,
the count and the top-scored flagged message ids.
"""

import boto3

# SMS messages longer than this are split and billed per part
SMS_LIMIT = 160


def sms_text(summary, flagged, limit=SMS_LIMIT):
    """One short line: status, flagged count, then the highest-scored message ids that fit."""
    text = "jeeves %s: %d flagged" % (summary.get("status"), len(flagged))
    for row in sorted(flagged, key=lambda row: -row["score"]):
        candidate = "%s %s" % (text, row["message_id"])
        if len(candidate) > limit:
            break
        text = candidate
    return text[:limit]


class SMSNotifier:
    """Publish sms_text to a phone number or an SNS topic."""

    def __init__(self, phone=None, topic=None, region=None, client=None):
        if bool(phone) == bool(topic):
            raise ValueError("SMS notifier needs exactly one of phone= or topic=")
        self.target = {"PhoneNumber": phone} if phone else {"TopicArn": topic}
        self.client = client or boto3.client("sns", region_name=region)

    def notify(self, summary, flagged):
        self.client.publish(Message=sms_text(summary, flagged), **self.target)
