"""Copy IMAP folders to files every other command reads, incrementally.

``fetch_folders(client, folders, target)`` copies each folder's messages
with a UID above the one recorded in the target's state, in batches of
``batch_size``, oldest first:

- a local directory gets one mbox per folder (mboxrd: ``>From `` escaped),
  ``DIR/INBOX.mbox``, ``DIR/Work/Meetings.mbox`` (the server's hierarchy
  delimiter becomes ``/``), so the records' ``folder`` ends with the folder's
  name; the state is ``DIR.fetch-state.json`` beside the directory;
- an S3 prefix gets one object per batch under today's (UTC) partition,
  ``PREFIX/dt=YYYY-MM-DD/<folder>/<uidvalidity>-<first uid>-<last uid>.mbox``,
  the input layout of `jeeves schedule`; the state is
  ``PREFIX/_jeeves/fetch-state.json``.

Each stored message gets the labels the server keeps beside it as headers,
so that the parser reads them like a Google Takeout export:
``X-Gmail-Labels:`` (Gmail's ``X-GM-LABELS``, comma separated, system
labels without their backslash: ``Inbox``, ``Important``) and
``X-Keywords:`` (the IMAP keywords, the flags without a backslash).

Crash safety: a batch is written first (a local mbox is appended and
synced; an S3 object is one PUT), then the state advances. The state of a
local folder records the mbox's committed size, and a run first cuts off
anything past it (the tail of a batch whose state never advanced); for S3
the state names the batch object before it is written, and a run first
deletes such a pending object. So a connection dropped mid-fetch loses and
doubles nothing: the next run fetches that batch again.

A changed UIDVALIDITY means the server renumbered the folder: the folder is
fetched again from UID 1, skipping messages already stored (same
Message-ID, or the same body when there is none), so nothing is doubled.

State (JSON): ``{"version": 1, "account": USER@HOST, "folders": {NAME: {"uidvalidity",
"last_uid", "messages", "bytes" (local) or "pending" (S3)}}}``.
"""

import hashlib
import os
import re
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32

from imapclient import imap_utf7

from jeeves.batch import split_s3_uri
from jeeves.features.mailformats import split_mbox
from jeeves.mailbox.connection import (
    CONNECTION_ERRORS,
    ConnectionLost,
    MailboxError,
    TLSSettings,
    check_folders,
    close,
    connect,
    select,
)
from jeeves.mailbox.state import JSONState, is_s3
from jeeves.storage import Storage, s3_client

STATE_VERSION = 1
DEFAULT_BATCH_SIZE = 100
S3_STATE_KEY = "_jeeves/fetch-state.json"
GMAIL_CAPABILITY = b"X-GM-EXT-1"
_FETCH_ITEMS = [b"BODY.PEEK[]", b"FLAGS", b"INTERNALDATE"]
_MBOXRD_FROM = re.compile(rb"^(>*From )", re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


# -- messages ---------------------------------------------------------------

def _text(value):
    if isinstance(value, bytes):
        return imap_utf7.decode(value)
    return str(value)


def keywords_of(flags):
    """IMAP keywords among a message's flags (system flags start with a backslash)."""
    return sorted({_text(flag) for flag in flags if not _text(flag).startswith("\\")})


def gmail_labels_of(labels):
    """Gmail's X-GM-LABELS as Takeout writes them: ``\\Inbox`` -> ``Inbox``."""
    return sorted({_text(label).lstrip("\\") for label in labels if _text(label).strip("\\")})


def _header_value(values):
    # Takeout quotes a label holding a comma
    return ",".join('"%s"' % value.replace('"', "") if "," in value else value
                    for value in values)


def label_headers(keywords, gmail_labels):
    """The header lines (bytes) that carry a message's labels into the stored copy."""
    lines = b""
    if gmail_labels:
        lines += b"X-Gmail-Labels: " + _header_value(gmail_labels).encode("utf-8") + b"\n"
    if keywords:
        lines += b"X-Keywords: " + _header_value(keywords).encode("utf-8") + b"\n"
    return lines


def mbox_entry(raw, internaldate, headers=b""):
    """One mboxrd entry: a From_ line, ``headers``, the message (LF line ends), a blank line."""
    message = raw.replace(b"\r\n", b"\n")
    message = _MBOXRD_FROM.sub(rb">\1", message)
    if not message.endswith(b"\n"):
        message += b"\n"
    # ctime(), unlike strftime("%a %b"), ignores the locale: the parser wants English names
    when = (internaldate or datetime(1970, 1, 1)).ctime()
    return b"From MAILER-DAEMON " + when.encode("ascii") + b"\n" + headers + message + b"\n"


def message_key(raw):
    """Identity of a message across renumbering: its Message-ID, else a hash of its body."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    message_id = (headers.get("Message-ID") or "").strip()
    if message_id:
        return "id:" + message_id
    end = _HEADER_END.search(raw)
    body = raw[end.end():] if end else raw
    return "sha1:" + hashlib.sha1(body.replace(b"\r\n", b"\n").rstrip()).hexdigest()


def new_uids(client, last_uid):
    """UIDs above ``last_uid`` in the selected folder, ascending."""
    # "UID n:*" also matches the highest UID when it is below n: filter
    return sorted(uid for uid in client.search(["UID", "%d:*" % (last_uid + 1)])
                  if uid > last_uid)


def fetch_messages(client, uids, gmail=False):
    """[(uid, raw, internaldate, keywords, gmail labels)] for ``uids``, in UID order."""
    items = _FETCH_ITEMS + ([b"X-GM-LABELS"] if gmail else [])
    response = client.fetch(uids, items)
    messages = []
    for uid in sorted(response):
        data = response[uid]
        raw = data.get(b"BODY[]")
        if raw is None:  # expunged meanwhile
            continue
        messages.append((uid, raw, data.get(b"INTERNALDATE"), keywords_of(data.get(b"FLAGS", ())),
                         gmail_labels_of(data.get(b"X-GM-LABELS", ())) if gmail else []))
    return messages


def folder_segments(name, delimiter):
    """A folder's path segments, safe as file names."""
    parts = name.split(delimiter) if delimiter else [name]
    return [part.replace(os.sep, "_") if part not in ("", ".", "..") else "_" + part + "_"
            for part in parts]


# -- targets ----------------------------------------------------------------

class LocalTarget:
    """One mbox per folder under a local directory; the state beside it."""

    def __init__(self, directory, state_path=None):
        self.directory = directory.rstrip("/") or "/"
        self.state = JSONState(state_path or self.directory + ".fetch-state.json")

    def path(self, segments):
        return os.path.join(self.directory, *segments[:-1], segments[-1] + ".mbox")

    def prepare(self, segments, folder_state):
        """Cut what a dropped batch appended past the committed size."""
        path = self.path(segments)
        committed = folder_state.get("bytes", 0)
        size = os.path.getsize(path) if os.path.exists(path) else None
        if size is None and committed:
            folder_state.clear()  # the copy was removed: fetch it all again
        elif size is not None and size > committed:
            with open(path, "r+b") as handle:
                handle.truncate(committed)

    def stored(self, segments):
        path = self.path(segments)
        if not os.path.exists(path):
            return
        with open(path, "rb") as handle:
            data = handle.read()
        for _, message in split_mbox(data):
            yield message

    def write(self, segments, uidvalidity, entries, folder_state, save):
        path = self.path(segments)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "ab") as handle:
            handle.write(b"".join(entries))
            handle.flush()
            os.fsync(handle.fileno())
            folder_state["bytes"] = handle.tell()


class S3Target:
    """One object per batch under today's dt= partition of an S3 prefix."""

    def __init__(self, uri, s3, today=None):
        self.bucket, self.prefix = split_s3_uri(uri)
        # every read and write of the target goes through the package's one I/O layer
        self.storage = Storage(s3=s3 or s3_client())
        self.today = today or datetime.now(timezone.utc).strftime("%Y-%m-%d")
        self.state = JSONState(self._uri(S3_STATE_KEY), s3)

    def _uri(self, key_under_prefix):
        return "s3://%s/%s%s" % (self.bucket, self.prefix, key_under_prefix)

    def prepare(self, segments, folder_state):
        """Delete the object of a batch written before its state advanced."""
        pending = folder_state.pop("pending", None)
        if pending:
            self.storage.clear("s3://%s/%s" % (self.bucket, pending))

    def _folder_keys(self, segments):
        suffix = "/" + "/".join(segments) + "/"
        for key in self.storage.s3_keys(self._uri("dt=")):
            partition, _, rest = key[len(self.prefix):].partition("/")
            if ("/" + rest).rpartition("/")[0] + "/" == suffix:
                yield key

    def stored(self, segments):
        for key in self._folder_keys(segments):
            data = self.storage.read_bytes("s3://%s/%s" % (self.bucket, key))
            for _, message in split_mbox(data):
                yield message

    def write(self, segments, uidvalidity, entries, folder_state, save):
        key = "%sdt=%s/%s/%d-%d-%d.mbox" % (self.prefix, self.today, "/".join(segments),
                                            uidvalidity, entries.first_uid, entries.last_uid)
        folder_state["pending"] = key
        save()
        self.storage.write_bytes("s3://%s/%s" % (self.bucket, key), b"".join(entries))
        folder_state.pop("pending")


class _Batch(list):
    """mbox entries of one batch, and the UIDs they span."""

    def __init__(self, entries, first_uid, last_uid):
        super().__init__(entries)
        self.first_uid, self.last_uid = first_uid, last_uid


def target_for(output, s3=None, state_path=None):
    """The target for ``--output``: an S3 prefix or a local directory."""
    if is_s3(output):
        if state_path:
            raise MailboxError("--state is for local output; S3 output keeps it under "
                               "the prefix (%s)" % S3_STATE_KEY)
        try:
            return S3Target(output, s3)
        except ValueError as error:
            raise MailboxError(str(error)) from None
    if os.path.exists(output) and not os.path.isdir(output):
        raise MailboxError("output %s exists and is not a directory" % output)
    return LocalTarget(output, state_path)


# -- fetching ---------------------------------------------------------------

def _delimiters(client):
    return {name: (delimiter.decode() if isinstance(delimiter, bytes) else delimiter)
            for _, delimiter, name in client.list_folders()}


def fetch_folders(client, folders, target, account, batch_size=DEFAULT_BATCH_SIZE,
                  progress=None):
    """Copy the new messages of ``folders`` into ``target`` -> {folder: messages written}.

    ``account`` (USER@HOST) is recorded in the state, and a state of another
    account is refused. ``progress(folder, count)`` is called
    after each batch. Every folder is checked before anything is written.
    """
    if batch_size < 1:
        raise MailboxError("batch size must be at least 1, not %d" % batch_size)
    try:
        state = target.state.load()
    except ValueError as error:
        raise MailboxError(str(error)) from None
    if state.get("account", account) != account:
        raise MailboxError("output holds mail of %s, not %s: use another --output"
                           % (state["account"], account))
    check_folders(client, folders)
    state = {"version": STATE_VERSION, "account": account,
             "folders": dict(state.get("folders", {}))}
    gmail = client.has_capability(GMAIL_CAPABILITY)
    delimiters = _delimiters(client)
    written = {}

    def save():
        target.state.save(state)

    for folder in folders:
        folder_state = dict(state["folders"].get(folder, {}))
        state["folders"][folder] = folder_state
        segments = folder_segments(folder, delimiters.get(folder))
        target.prepare(segments, folder_state)
        uidvalidity = select(client, folder)[b"UIDVALIDITY"]
        known = None
        if folder_state.get("uidvalidity") not in (None, uidvalidity):
            # renumbered: start over, skipping what is stored already
            known = {message_key(message) for message in target.stored(segments)}
            folder_state["last_uid"] = 0
        folder_state["uidvalidity"] = uidvalidity
        uids = new_uids(client, folder_state.get("last_uid", 0))
        written[folder] = 0
        for start in range(0, len(uids), batch_size):
            chunk = uids[start:start + batch_size]
            entries = []
            for _, raw, internaldate, keywords, labels in fetch_messages(client, chunk, gmail):
                if known is not None:
                    key = message_key(raw)
                    if key in known:
                        continue
                    known.add(key)
                entries.append(mbox_entry(raw, internaldate, label_headers(keywords, labels)))
            if entries:
                target.write(segments, uidvalidity, _Batch(entries, chunk[0], chunk[-1]),
                             folder_state, save)
            folder_state["last_uid"] = chunk[-1]
            folder_state["messages"] = folder_state.get("messages", 0) + len(entries)
            save()
            written[folder] += len(entries)
            if progress is not None:
                progress(folder, written[folder])
        if not uids:
            save()
    return written


def selectable_folders(client):
    """Every folder that holds messages (not ``\\Noselect``), in the server's order."""
    return [name for flags, _, name in client.list_folders()
            if b"\\Noselect" not in flags and b"\\NonExistent" not in flags]


def fetch(url, output, folders=(), tls=None, batch_size=DEFAULT_BATCH_SIZE,
          state_path=None, s3=None, progress=None):
    """Connect to ``url`` (a MailboxURL) and fetch ``folders`` (all when empty) into
    ``output`` -> {folder: messages written}. MailboxError for what the user can fix;
    ConnectionLost when the connection breaks midway (the next run resumes)."""
    if is_s3(output) and s3 is None:
        import boto3  # only S3 output needs it

        s3 = boto3.client("s3")
    target = target_for(output, s3, state_path)
    client = connect(url, tls or TLSSettings())
    try:
        names = list(folders) or selectable_folders(client)
        return fetch_folders(client, names, target, url.account, batch_size, progress)
    except CONNECTION_ERRORS as error:
        raise ConnectionLost("connection to %s lost: %s; run again to resume" % (url, error)
                             ) from None
    finally:
        close(client)
