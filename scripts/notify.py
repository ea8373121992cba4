"""Notifiers for scheduled batches: tell someone what a run did and what it flagged.

A notifier is any object with ``notify(summary, flagged)``: ``summary`` is
the run summary of ``jeeves.batch.run_batch`` (status, partitions,
counts), ``flagged`` the newly flagged emails (dicts with message_id,
score, label, partition). Built in:

- ``WebhookNotifier``: HTTP POST of ``{"summary", "flagged"}`` as JSON;
- ``EmailNotifier``: a plain-text email through SMTP (STARTTLS and login
  when asked; the password only from the environment).

``notifier_from_spec`` turns a ``--notify`` value into a notifier:

- ``https://hooks.example/...`` (or http://): a webhook;
- ``smtp://HOST[:PORT]?from=ADDR&to=ADDR[,ADDR]&starttls=1&user=NAME``:
  email; the password is read from ``$JEEVES_SMTP_PASSWORD``;
- ``python:package.module:factory?key=value&...``: a plug-in, built by
  calling ``factory(**query)``; ``scripts/notify_sms.py`` is the example
  (SMS through Amazon SNS).
"""

import importlib
import json
import os
import smtplib
import urllib.request
from email.message import EmailMessage
from urllib.parse import parse_qs, urlparse

# how many flagged emails a message lists before "... and N more"
LISTED_FLAGGED = 50


def summary_text(summary, flagged, limit=LISTED_FLAGGED):
    """A few lines a person reads: status, partitions, counts, then the flagged emails."""
    lines = ["jeeves batch %s: %s" % (summary.get("run_id"), summary.get("status"))]
    if summary.get("error"):
        lines.append("error: %s" % summary["error"])
    lines.append("processed: %s" % (", ".join(summary.get("processed", ())) or "none"))
    if summary.get("recovered"):
        lines.append("recovered: %s" % ", ".join(summary["recovered"]))
    lines.append("flagged: %d" % len(flagged))
    for row in flagged[:limit]:
        lines.append("  %s  %.3f  %s" % (row.get("partition", ""), row["score"],
                                         row["message_id"]))
    if len(flagged) > limit:
        lines.append("  ... and %d more" % (len(flagged) - limit))
    return "\n".join(lines) + "\n"


class WebhookNotifier:
    """POST {"summary", "flagged"} as JSON to a URL."""

    def __init__(self, url, timeout=10.0):
        self.url = url
        self.timeout = timeout

    def notify(self, summary, flagged):
        body = json.dumps({"summary": summary, "flagged": flagged}, sort_keys=True)
        request = urllib.request.Request(self.url, data=body.encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()


class EmailNotifier:
    """A plain-text email of summary_text through an SMTP server."""

    def __init__(self, host, port, sender, recipients, starttls=False, username=None,
                 password=None, timeout=30.0):
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout = timeout

    def message(self, summary, flagged):
        message = EmailMessage()
        message["Subject"] = "jeeves: %s, %d flagged (%s)" % (
            summary.get("status"), len(flagged), ", ".join(summary.get("processed", ())) or
            "no new partition")
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(summary_text(summary, flagged))
        return message

    def notify(self, summary, flagged):
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(self.message(summary, flagged))


def _query(parsed):
    return {key: values[-1] for key, values in parse_qs(parsed.query).items()}


def notifier_from_spec(spec):
    """A notifier for one --notify value (see the module docstring); ValueError if bad."""
    parsed = urlparse(spec)
    if parsed.scheme in ("http", "https"):
        return WebhookNotifier(spec)
    if parsed.scheme == "smtp":
        options = _query(parsed)
        if not parsed.hostname or "from" not in options or "to" not in options:
            raise ValueError("email notifier needs smtp://HOST[:PORT]?from=ADDR&to=ADDR: %r"
                             % (spec,))
        return EmailNotifier(
            parsed.hostname, parsed.port or 25, options["from"],
            [address.strip() for address in options["to"].split(",") if address.strip()],
            starttls=options.get("starttls") in ("1", "true", "yes"),
            username=options.get("user"), password=os.environ.get("JEEVES_SMTP_PASSWORD"))
    if parsed.scheme == "python":
        target, _, query = spec[len("python:"):].partition("?")
        module_name, _, factory_name = target.partition(":")
        if not module_name or not factory_name:
            raise ValueError("plug-in notifier needs python:module:factory: %r" % (spec,))
        try:
            factory = getattr(importlib.import_module(module_name), factory_name)
        except (ImportError, AttributeError) as error:
            raise ValueError("cannot load notifier plug-in %r: %s" % (target, error)) from None
        return factory(**{key: values[-1] for key, values in parse_qs(query).items()})
    raise ValueError("unknown notifier %r (use https://..., smtp://..., or python:module:factory)"
                     % (spec,))
