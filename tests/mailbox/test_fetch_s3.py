"""`jeeves fetch --output s3://...` into dt= partitions, against a moto server on 127.0.0.1."""

import json
from datetime import datetime, timezone

from jeeves.batch import list_partitions
from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import outcome_of
from tests.emr.conftest import aws_env, moto_endpoint, s3  # noqa: F401 (fixtures)
from tests.mailbox.conftest import fetch, spam_messages
from tests.mailbox.test_fetch import content, parse_raw


def objects(s3, bucket, prefix):  # noqa: F811
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listing)


def records_under(s3, bucket, keys):  # noqa: F811
    records = []
    for key in keys:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        for found in iter_found(data, "s3://%s/%s" % (bucket, key), key):
            kind, record, _ = outcome_of(found)
            assert kind == "message"
            records.append(record)
    return records


def test_fetch_to_s3_writes_todays_partition_incrementally(imap_env, s3, monkeypatch,  # noqa: F811
                                                           capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.meta.endpoint_url)
    s3.create_bucket(Bucket="inbox-copy")
    first, later = spam_messages(3, skip=100), spam_messages(2, skip=110)
    imap_env.append("S3Folder", [(raw, [b"Work"]) for raw in first])
    uri = "s3://inbox-copy/mail/"
    assert fetch(imap_env, uri, "--folder", "S3Folder", "--batch-size", "2") == 0
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert list_partitions(s3, uri) == [today]
    keys = objects(s3, "inbox-copy", "mail/dt=")
    assert len(keys) == 2 and all(key.startswith("mail/dt=%s/S3Folder/" % today)
                                  for key in keys)
    records = records_under(s3, "inbox-copy", keys)
    assert content(records) == content(parse_raw(raw) for raw in first)
    assert {tuple(record["labels"]) for record in records} == {("Work",)}

    imap_env.append("S3Folder", [(raw, []) for raw in later])
    capsys.readouterr()
    assert fetch(imap_env, uri, "--folder", "S3Folder") == 0
    assert "S3Folder: 2 new messages" in capsys.readouterr().out
    records = records_under(s3, "inbox-copy", objects(s3, "inbox-copy", "mail/dt="))
    assert content(records) == content(parse_raw(raw) for raw in first + later)
    state = json.loads(s3.get_object(Bucket="inbox-copy",
                                     Key="mail/_jeeves/fetch-state.json")["Body"].read())
    assert state["folders"]["S3Folder"]["last_uid"] == len(first + later)
    assert "pending" not in state["folders"]["S3Folder"]


def test_a_pending_s3_batch_is_deleted_and_fetched_again(imap_env, s3, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.meta.endpoint_url)
    s3.create_bucket(Bucket="pending-copy")
    messages = spam_messages(2, skip=120)
    imap_env.append("S3Pending", [(raw, []) for raw in messages])
    uri = "s3://pending-copy/mail/"
    assert fetch(imap_env, uri, "--folder", "S3Pending") == 0
    # as if a run died after writing a batch object but before advancing the state
    key = "mail/_jeeves/fetch-state.json"
    state = json.loads(s3.get_object(Bucket="pending-copy", Key=key)["Body"].read())
    [written] = objects(s3, "pending-copy", "mail/dt=")
    state["folders"]["S3Pending"].update(last_uid=0, messages=0, pending=written)
    s3.put_object(Bucket="pending-copy", Key=key, Body=json.dumps(state).encode())
    assert fetch(imap_env, uri, "--folder", "S3Pending") == 0
    records = records_under(s3, "pending-copy", objects(s3, "pending-copy", "mail/dt="))
    assert content(records) == content(parse_raw(raw) for raw in messages)


def test_a_renumbered_folder_resyncs_into_s3_without_duplicates(imap_env, s3, monkeypatch,  # noqa: F811
                                                                capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.meta.endpoint_url)
    s3.create_bucket(Bucket="renumbered-copy")
    messages, extra = spam_messages(2, skip=200), spam_messages(1, skip=205)
    imap_env.append("S3Renumbered", [(raw, []) for raw in messages])
    uri = "s3://renumbered-copy/mail/"
    assert fetch(imap_env, uri, "--folder", "S3Renumbered") == 0
    client = imap_env.client()
    try:
        client.delete_folder("S3Renumbered")
    finally:
        client.logout()
    imap_env.append("S3Renumbered", [(raw, []) for raw in extra + messages])
    capsys.readouterr()
    assert fetch(imap_env, uri, "--folder", "S3Renumbered") == 0
    assert "S3Renumbered: 1 new message\n" in capsys.readouterr().out
    records = records_under(s3, "renumbered-copy", objects(s3, "renumbered-copy", "mail/dt="))
    assert content(records) == content(parse_raw(raw) for raw in messages + extra)
