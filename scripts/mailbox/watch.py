"""`jeeves watch`: score new mail in one IMAP folder as it arrives, notify on flagged mail.

``Watcher(url, bundle_dir, notifiers, state_path, settings).run()``:

1. connects (a login or certificate problem at the start is a MailboxError:
   the user must fix it), selects the folder;
2. scores every message with a UID above the last one scored (all of them on
   the first run, or none with ``new_only``): the raw message is parsed like
   a file (jeeves.features.parsing) and scored whole by the bundle, as `jeeves
   predict` does; the bundle, its analyzer and vocabulary load once;
3. for each message, in UID order: when flagged, each notifier's
   ``notify(summary, [row])``; one log line (the score, the model version,
   and the top five contributing terms or features: jeeves.models.explain);
   then the state records its UID, so a restart neither notifies twice nor
   skips one; then, with ``tag``, the IMAP keyword is set on a flagged one
   (a connection lost before that leaves it to the next connection);
4. before each pass that finds new mail, the model directory's version token
   (jeeves.models.versions.version_id) is read; when a new version was
   deployed the watcher loads it, logs the switch and scores with it from
   then on, without a restart (the state, kept per UID, is the same across
   the switch: nothing is notified twice or skipped); the online copy that
   `jeeves learn` publishes between retrainings (jeeves.scoring) is read
   the same way, and taken when it descends from the loaded version and
   holds more labels;
5. with ``once``, stops; otherwise waits with IMAP IDLE (re-issued every
   ``idle_seconds``) or, where the server has no IDLE, polls every
   ``interval`` seconds, and goes back to 2.

A dropped connection (a server restart) is logged, then retried after 1, 2,
4 ... up to ``max_backoff`` seconds; a notifier that fails is retried the
same way (the message stays unscored in the state). With ``once`` both end
the run with a MailboxError instead: a cron job reports and runs again.

``scorer`` (``--scorer batch|online``) names the model whose score and
label count: the version's batch model, or its online model (the batch
model, said in one log line, when the version has none). Each log line
names it: ``model=v000002`` or ``model=v000002/online@57`` (the online
model holding the label log up to entry 57).

A changed UIDVALIDITY (the folder was recreated) cannot tell scored
messages from new ones: the watcher then takes every message there as
scored, logs it, and goes on with the mail that arrives after.

State (JSON): ``{"version": 1, "account": USER@HOST, "folders": {NAME:
{"uidvalidity", "last_uid", "scored", "flagged"}}}``.
"""

import imaplib
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from imapclient.exceptions import IMAPClientError

from jeeves import scoring
from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import outcome_of
from jeeves.mailbox.connection import (
    CONNECTION_ERRORS,
    ConnectionLost,
    MailboxError,
    TLSSettings,
    close,
    connect,
    select,
)
from jeeves.mailbox.fetch import fetch_messages, folder_segments, new_uids
from jeeves.mailbox.state import JSONState
from jeeves.models import versions
from jeeves.models.bundle import BundleError, load_predictor
from jeeves.models.explain import Explainer

STATE_VERSION = 1
FETCH_BATCH = 50


class NotifyFailed(MailboxError):
    """A notifier failed on a flagged message (not recorded as scored)."""


@dataclass(frozen=True)
class WatchSettings:
    folder: str = "INBOX"
    interval: float = 60.0
    idle_seconds: float = 29 * 60  # RFC 2177: re-issue IDLE within 29 minutes
    tag: str = None
    once: bool = False
    new_only: bool = False
    max_backoff: float = 300.0
    scorer: str = scoring.DEFAULT_SCORER

    def __post_init__(self):
        if self.interval <= 0:
            raise MailboxError("--interval must be above 0 seconds, not %r" % self.interval)
        if self.tag is not None and (not self.tag or self.tag.startswith("\\")
                                     or any(c in self.tag for c in ' (){%*"\\]')):
            raise MailboxError("--tag must be an IMAP keyword (an atom without a backslash), "
                               "not %r" % self.tag)
        if self.scorer not in scoring.SCORERS:
            raise MailboxError("--scorer is batch or online, not %r" % (self.scorer,))


class Scorer:
    """The newest deployed version of a model directory (jeeves.models.versions; a
    plain bundle is version 0), loaded once: raw messages -> predictions, as
    `jeeves predict` gives (jeeves.models.bundle.load_predictor: numpy alone for
    the linear models). ``token`` is the versions.version_id it was loaded at.
    With ``scorer`` online, the version's online model (or the newer copy `jeeves
    learn` published for it) scores instead, where the version has one."""

    def __init__(self, model_dir, scorer=scoring.DEFAULT_SCORER, log=None):
        try:
            self.token = versions.version_id(model_dir)
            self.path = versions.resolve(model_dir)
            self.predictor = load_predictor(self.path)
        except BundleError as error:
            raise MailboxError(str(error)) from None
        self.version = versions.version_label(model_dir, self.path)
        self.explainer = Explainer(self.predictor)
        say = (lambda line: log("%s %s" % (_now(), line))) if log else None
        self.online = None
        if scorer == "online":
            self.online = scoring.OnlineCopy(model_dir, self.version, self.path, say)
        self.scorer = scoring.resolve_scorer(
            scorer, self.online.model if self.online else None, say or (lambda line: None),
            "%s (%s)" % (self.version, self.path))

    @property
    def label(self):
        """The model in log lines: ``v000002``, or ``v000002/online@57``."""
        if self.scorer == "online":
            return "%s/online@%d" % (self.version, self.online.label_seq)
        return self.version

    def refresh_online(self):
        """Take a newer published online copy (jeeves.scoring) -> True when taken."""
        return self.scorer == "online" and self.online.refresh()

    def records(self, messages, uri_prefix, segments):
        """[(uid, record or None, quarantine reason or None)] of [(uid, raw)]."""
        parsed = []
        for uid, raw in messages:
            relpath = "/".join(segments + [str(uid)])
            for found in iter_found(raw, "%s;UID=%d" % (uri_prefix, uid), relpath):
                kind, record, _ = outcome_of(found)
                parsed.append((uid, record, None) if kind == "message"
                              else (uid, None, record["reason"]))
                break  # one message per UID
        return parsed

    def predict(self, records):
        return self.predictor.predict(records)

    def explained(self, records):
        """(the predictions ``predict`` gives, the top five contributions of each
        message: jeeves.models.explain, or the online model's n-grams)."""
        if self.scorer == "online":
            return scoring.online_predictions(self.online.model, records, explain=True)
        return self.explainer.predict(records)


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Watcher:
    def __init__(self, url, bundle_dir, notifiers, state_path, settings=None, tls=None,
                 log=print, sleep=time.sleep):
        self.url, self.notifiers = url, list(notifiers)
        self.settings = settings or WatchSettings()
        self.tls = tls or TLSSettings()
        self.log, self.sleep = log, sleep
        self.state_file = JSONState(state_path)
        self.model_dir = bundle_dir
        self.scorer = Scorer(bundle_dir, self.settings.scorer, log)
        self.failed_token = None
        self.segments = folder_segments(self.settings.folder, "/")
        self.uri_prefix = "imap://%s/%s" % (url.account, self.settings.folder)

    # -- state

    def _load_state(self):
        try:
            state = self.state_file.load()
        except ValueError as error:
            raise MailboxError(str(error)) from None
        if state.get("account", self.url.account) != self.url.account:
            raise MailboxError("state file %s is for %s, not %s" % (
                self.state_file.location, state["account"], self.url.account))
        state.update(version=STATE_VERSION, account=self.url.account)
        state.setdefault("folders", {})
        return state

    # -- the model

    def check_version(self):
        """Switch to a newly deployed version of the model directory (polled before
        each pass: one small read); a version that does not load is logged once and
        the loaded one goes on scoring."""
        try:
            token = versions.version_id(self.model_dir)
        except (BundleError, OSError) as error:
            token, reason = None, error
        else:
            if token in (self.scorer.token, self.failed_token):
                self.scorer.refresh_online()
                return False
            try:
                scorer = Scorer(self.model_dir, self.settings.scorer, self.log)
            except MailboxError as error:
                reason = error
            else:
                self.log("%s model switched from %s to %s (%s)" % (
                    _now(), self.scorer.label, scorer.label, self.model_dir))
                self.scorer, self.failed_token = scorer, None
                return True
        if token is None or token != self.failed_token:
            self.log("%s new model version not loaded, %s goes on scoring: %s"
                     % (_now(), self.scorer.version, reason))
        self.failed_token = token
        return False

    # -- one pass

    def _start_folder(self, client, state):
        folder = self.settings.folder
        info = select(client, folder, readonly=self.settings.tag is None)
        uidvalidity = info[b"UIDVALIDITY"]
        folder_state = state["folders"].setdefault(folder, {})
        renumbered = folder_state.get("uidvalidity") not in (None, uidvalidity)
        if renumbered or ("uidvalidity" not in folder_state and self.settings.new_only):
            present = new_uids(client, 0)
            if renumbered:
                self.log("%s %s: UIDVALIDITY changed: the %d messages there are taken as "
                         "scored" % (_now(), folder, len(present)))
                folder_state.pop("untagged", None)
            folder_state["last_uid"] = max(present, default=0)
        folder_state["uidvalidity"] = uidvalidity
        folder_state.setdefault("last_uid", 0)
        self.state_file.save(state)
        return folder_state

    def _notify(self, row):
        summary = {"run_id": "watch %s/%s" % (self.url.account, self.settings.folder),
                   "status": "flagged", "processed": [self.settings.folder],
                   "source": "jeeves watch"}
        for notifier in self.notifiers:
            notifier.notify(summary, [row])

    def process_new(self, client, state, folder_state):
        """Score, notify and record every message above the last UID -> messages scored."""
        self._tag_untagged(client, state, folder_state)
        uids = new_uids(client, folder_state["last_uid"])
        if uids:
            self.check_version()
        scored = 0
        for start in range(0, len(uids), FETCH_BATCH):
            fetched = fetch_messages(client, uids[start:start + FETCH_BATCH])
            parsed = self.scorer.records([(uid, raw) for uid, raw, *_ in fetched],
                                         self.uri_prefix, self.segments)
            predictions, tops = self.scorer.explained([record for _, record, _ in parsed
                                                       if record is not None])
            predictions, tops = iter(predictions), iter(tops)
            for uid, record, reason in parsed:
                if record is None:
                    self.log("%s %s uid=%d not scored (%s)" % (_now(), self.settings.folder,
                                                              uid, reason))
                else:
                    self._handle(client, uid, record, next(predictions), folder_state,
                                 next(tops))
                    scored += 1
                folder_state["last_uid"] = uid
                self.state_file.save(state)
                self._tag_untagged(client, state, folder_state)
        return scored

    def _tag_untagged(self, client, state, folder_state):
        """Set --tag on the notified messages that lack it. They are recorded as done
        (state saved) before they are tagged, so a connection lost in between leaves
        the tag to the next connection instead of notifying them again."""
        if folder_state.get("untagged"):
            client.add_flags(folder_state["untagged"], [self.settings.tag.encode("ascii")])
            del folder_state["untagged"]
            self.state_file.save(state)

    def _handle(self, client, uid, record, prediction, folder_state, top=()):
        flagged = prediction["label"] == 1
        sender = (record.get("from") or {}).get("address")
        if flagged:
            row = {"message_id": record["message_id"], "score": prediction["score"],
                   "label": 1, "uid": uid, "folder": self.settings.folder,
                   "partition": self.settings.folder, "subject": record["subject"],
                   "from": sender, "date": record.get("date")}
            try:
                self._notify(row)
            except Exception as error:  # any notifier: HTTP, SMTP, a plug-in
                raise NotifyFailed("notifying message uid %d failed: %s" % (uid, error)
                                   ) from None
            if self.settings.tag:
                folder_state.setdefault("untagged", []).append(uid)  # tagged once saved
            folder_state["flagged"] = folder_state.get("flagged", 0) + 1
        folder_state["scored"] = folder_state.get("scored", 0) + 1
        # logged once notified: the line says it is done (its tag follows the state's save)
        self.log("%s %s uid=%d score=%.4f %s message_id=<%s> from=%s subject=%r model=%s%s" % (
            _now(), self.settings.folder, uid, prediction["score"],
            "FLAGGED" if flagged else "ok", record["message_id"], sender, record["subject"],
            self.scorer.label, (" top: " + ", ".join("%s %+.3f" % (name, value)
                                                        for name, value in top)) if top else ""))

    def _wait(self, client):
        """Until the server reports a change (IDLE) or the polling interval passes."""
        if client.has_capability("IDLE"):
            try:
                client.idle()
            except IMAPClientError as error:
                # a server shutting down answers IDLE with "* BYE": the connection is lost
                if "BYE" not in str(error):
                    raise
                raise imaplib.IMAP4.abort(str(error)) from None
            try:
                client.idle_check(timeout=self.settings.idle_seconds)
            finally:
                client.idle_done()
        else:
            self.sleep(self.settings.interval)
            client.noop()

    # -- the loop

    def run(self, stop=lambda: False):
        """Watch until ``stop()`` is true (checked after each pass) or, with ``once``,
        one pass -> messages scored in all."""
        state = self._load_state()
        total, backoff, connected_once = 0, 1.0, False
        while True:
            try:
                client = connect(self.url, self.tls)
            except MailboxError as error:
                if not connected_once or self.settings.once:
                    raise
                self.log("%s cannot reconnect (%s); retrying in %gs" % (_now(), error, backoff))
                self.sleep(backoff)
                backoff = min(backoff * 2, self.settings.max_backoff)
                continue
            connected_once = True
            try:
                folder_state = self._start_folder(client, state)
                backoff = 1.0
                while True:
                    total += self.process_new(client, state, folder_state)
                    if self.settings.once or stop():
                        return total
                    self._wait(client)
            except (NotifyFailed,) + CONNECTION_ERRORS as error:
                lost = not isinstance(error, NotifyFailed)
                message = ("connection to %s lost: %s" % (self.url, error)) if lost \
                    else str(error)
                if self.settings.once:
                    raise (ConnectionLost if lost else MailboxError)(
                        message + "; run again to resume") from None
                self.log("%s %s; retrying in %gs" % (_now(), message, backoff))
                self.sleep(backoff)
                backoff = min(backoff * 2, self.settings.max_backoff)
            finally:
                close(client)
