"""The scoring daemon of `jeeves serve`: a model kept loaded, HTTP with JSON.

``Daemon(model_dir, ..., scorer=batch|online)`` holds the newest deployed
version of a model directory (jeeves.models.versions) loaded, scorer,
explainer and (when the version has one) its online model, and reloads it
when ``version_id`` changes: the token is read before each request (one
small file read), so the first request after a deploy is scored by the new
version. A version that fails to load is logged once and the old one keeps
serving. Before each request it also reads the token of the online copy
`jeeves learn` publishes between retrainings (jeeves.scoring): a copy of
the loaded version's online model that holds more labels replaces the one
in memory, and the labels this daemon learnt that the copy has not taken
yet (after its ``serve_offset``) are learnt again on top of it.

``scorer`` (``--scorer``, or ``?scorer=`` per request) names the model
whose score and label answer: the batch model, or the online model (the
batch model, and one log line per version, where the version has none).

``make_server(daemon, listen=..., socket_path=...)`` is a
``ThreadingHTTPServer`` on 127.0.0.1 or a unix stream socket (mode 0600).
The standard library's server is enough: four endpoints, JSON in and out,
one process on one machine, and `jeeves serve` then adds no dependency and
no import to the package (a framework would cost the daemon's start and
the install more than it would save in code).

Endpoints (docs/models.md, "The scoring daemon"):

- ``POST /score``: the body is one raw RFC 822 message (or an mbox, a gzip
  of one, as `jeeves predict` reads files) -> ``{"version", "messages": [{
  "message_id", "score", "label", "source", "top": [[feature,
  contribution], ...]}]}`` plus, for a body holding one message, that
  message's fields at the top level. ``?uri=`` and ``?relpath=`` name the
  source (labels only, never opened); ``?version=vNNNNNN`` scores with an
  older deployed version of the same directory; ``?scorer=batch|online``.
- ``POST /learn``: JSON ``{"label": 0|1, "message_id": ID}`` or ``{"label":
  0|1, "message": RAW}``, or a raw message with ``?label=0|1`` -> appended
  to ``DIR/serve-labels.jsonl`` (one write, fsync'd; `jeeves learn` takes
  it into its label log) with the raw message in ``DIR/serve-mail/`` (for
  a message id, the body of the last request that scored it alone) and,
  when the version has an online model, learned by it in memory.
- ``GET /health``: version, uptime, counts.

Every bad request (malformed HTTP, a body above ``max_bytes`` refused from
its Content-Length before it is read, a body with no email in it, an
unknown path, a version name outside the directory) is answered with a 4xx
and a JSON ``{"error", "status"}`` body, and logged in one line; the daemon
keeps serving.
"""

import hashlib
import json
import os
import socket
import socketserver
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from jeeves import scoring
from jeeves.errors import UserError
from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import DEFAULT_MAX_MESSAGE_BYTES, outcome_of
from jeeves.files import write_atomically
from jeeves.models import versions
from jeeves.models.bundle import MODEL_FILE, BundleError, load_predictor
from jeeves.models.explain import Explainer

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
LABEL_LOG = scoring.SERVE_LABELS
LEARNED_MAIL = scoring.SERVE_MAIL
RECENT = 256  # records of recently scored messages kept for /learn by message id
RECENT_RAW = 32  # and the raw bodies of the last ones scored alone, for jeeves learn
RAW_KEPT_BYTES = 1024 * 1024  # a larger body is not kept (its label waits for the mailbox)
REQUEST_TIMEOUT = 30.0
ONLINE_THRESHOLD = scoring.ONLINE_THRESHOLD


class RequestError(Exception):
    """A request the daemon refuses: HTTP status and one line."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Loaded:
    """One loaded version."""

    version: str
    path: str
    token: str
    predictor: object
    explainer: Explainer
    online_copy: scoring.OnlineCopy = None
    loaded_at: float = field(default_factory=time.time)
    model_name: str = None
    fallback_said: bool = False  # --scorer online without an online model, logged once

    @property
    def online(self):
        """The online model in memory (None when the version has none)."""
        return self.online_copy.model if self.online_copy is not None else None


def load_version(model_dir, path, token, log=None):
    """Load the bundle in ``path`` (a version of ``model_dir``) -> Loaded; BundleError."""
    predictor = load_predictor(path)
    name = versions.version_label(model_dir, path)
    online_copy = scoring.OnlineCopy(model_dir, name, path,
                                     (lambda line: log("%s %s" % (_now(), line))) if log else None)
    try:
        with open(os.path.join(path, MODEL_FILE), encoding="utf-8") as handle:
            model_name = json.load(handle).get("model_name")
    except (OSError, ValueError, AttributeError):
        model_name = None
    version = name
    return Loaded(version=version, path=path, token=token, predictor=predictor,
                  explainer=Explainer(predictor), online_copy=online_copy, model_name=model_name)


class Daemon:
    """The model directory's newest version, loaded, and what the endpoints do."""

    def __init__(self, model_dir, max_bytes=DEFAULT_MAX_BYTES, log=print,
                 scorer=scoring.DEFAULT_SCORER):
        self.model_dir = os.path.abspath(os.fspath(model_dir))
        self.max_bytes = int(max_bytes)
        self.log = log
        if scorer not in scoring.SCORERS:
            raise UserError("--scorer is batch or online, not %r" % (scorer,))
        self.scorer = scorer
        # (offset in serve-labels.jsonl, record, label) of what the online model learnt
        # here: learnt again on top of a copy published before jeeves learn took it
        self.learned_online = []
        self.started = time.time()
        self.counts = {"scored": 0, "score_requests": 0, "learned": 0, "errors": 0,
                       "reloads": 0}
        self.lock = threading.Lock()  # loading, the online model, the label log, counts
        self.recent = OrderedDict()  # message_id -> record, the last RECENT scored
        self.recent_raw = OrderedDict()  # message_id -> raw body, the last RECENT_RAW
        self.failed_token = None
        try:
            token = versions.version_id(self.model_dir)
            self.current = load_version(self.model_dir, versions.resolve(self.model_dir),
                                        token, log)
        except BundleError as error:
            raise UserError(str(error)) from None
        self.older = {}  # version name -> Loaded, for ?version=

    # -- versions

    def model(self):
        """The loaded newest version, reloaded first when a new one was deployed."""
        try:
            token = versions.version_id(self.model_dir)
        except (BundleError, OSError) as error:
            self._load_failed(None, error)
            return self.current
        if token == self.current.token or token == self.failed_token:
            self._refresh_online(self.current)
            return self.current
        with self.lock:
            if token != self.current.token:
                try:
                    loaded = load_version(self.model_dir, versions.resolve(self.model_dir),
                                          token, self.log)
                except (BundleError, OSError) as error:
                    self._load_failed(token, error)
                    return self.current
                self.log("%s switched from %s to %s (%s)" % (
                    _now(), self.current.version, loaded.version, loaded.model_name))
                self._relearn(loaded)
                self.current, self.failed_token = loaded, None
                self.counts["reloads"] += 1
        return self.current

    def _refresh_online(self, loaded):
        """Take the online copy `jeeves learn` published for this version, if newer."""
        copy = loaded.online_copy
        if copy is None or copy.model is None:
            return
        with self.lock:
            if copy.refresh():
                self._relearn(loaded)

    def _relearn(self, loaded):
        """Learn again the labels given here that the loaded online model has not taken
        (after its serve_offset); the ones it has are forgotten here. Under the lock."""
        copy = loaded.online_copy
        if copy is None or copy.model is None:
            return
        self.learned_online = [item for item in self.learned_online
                               if item[0] >= copy.serve_offset]
        if self.learned_online:
            copy.model.learn([record for _, record, _ in self.learned_online],
                             [label for _, _, label in self.learned_online])

    def _load_failed(self, token, error):
        if token is None or token != self.failed_token:
            self.log("%s error: new model version not loaded, %s keeps serving: %s"
                     % (_now(), self.current.version, error))
        self.failed_token = token

    def version(self, name):
        """A named deployed version of the same directory (RequestError when it is
        no version name inside it)."""
        current = self.model()
        if name == current.version:
            return current
        try:
            path = versions.version_path(self.model_dir, name)
        except BundleError as error:
            raise RequestError(404 if versions.VERSION_NAME.match(name or "") else 400,
                               str(error)) from None
        with self.lock:
            if name not in self.older:
                try:
                    self.older[name] = load_version(self.model_dir, path, name, self.log)
                except BundleError as error:
                    raise RequestError(404, str(error)) from None
            return self.older[name]

    # -- endpoints

    def parse(self, body, uri="serve:", relpath="body"):
        """Records of the messages in ``body``; RequestError when none is an email."""
        records, reasons = [], []
        for found in iter_found(body, uri, relpath):
            kind, record, _ = outcome_of(found, DEFAULT_MAX_MESSAGE_BYTES)
            if kind == "message":
                records.append(record)
            else:
                reasons.append(record.get("reason", kind))
        if not records:
            raise RequestError(400, "no email in the body (%s)"
                               % (", ".join(sorted(set(reasons))) or "empty"))
        return records

    def scorer_of(self, loaded, requested):
        """The scorer that answers: ``requested`` (or --scorer), batch when the version
        has no online model (logged once per version)."""
        requested = requested or self.scorer
        if requested not in scoring.SCORERS:
            raise RequestError(400, "scorer is batch or online, not %r" % requested)

        def say(line):
            if not loaded.fallback_said:
                loaded.fallback_said = True
                self.log("%s %s" % (_now(), line))

        return scoring.resolve_scorer(requested, loaded.online, say, loaded.version)

    def score(self, body, query):
        loaded = self.version(query["version"]) if "version" in query else self.model()
        scorer = self.scorer_of(loaded, query.get("scorer"))
        records = self.parse(body, query.get("uri", "serve:"), query.get("relpath", "body"))
        online = loaded.online
        online_predictions = online_tops = None
        if online is not None:
            with self.lock:
                online_predictions, online_tops = scoring.online_predictions(
                    online, records, explain=scorer == "online")
        if scorer == "online":
            predictions, tops = online_predictions, online_tops
        else:
            predictions, tops = loaded.explainer.predict(records)
        messages = []
        for number, (prediction, top) in enumerate(zip(predictions, tops)):
            message = dict(prediction, version=loaded.version, scorer=scorer,
                           top=[[name, value] for name, value in top])
            if online_predictions is not None:
                message["online_score"] = online_predictions[number]["score"]
            messages.append(message)
        with self.lock:
            self.counts["scored"] += len(records)
            self.counts["score_requests"] += 1
            for record in records:
                # the body is the raw message when it holds that message alone
                self.recent[record["message_id"]] = record
                self.recent.move_to_end(record["message_id"])
            if len(records) == 1 and len(body) <= RAW_KEPT_BYTES:
                # the body is the raw message when it holds that message alone
                self.recent_raw[records[0]["message_id"]] = body
                self.recent_raw.move_to_end(records[0]["message_id"])
            for kept, bound in ((self.recent, RECENT), (self.recent_raw, RECENT_RAW)):
                while len(kept) > bound:
                    kept.popitem(last=False)
        answer = {"version": loaded.version, "model_name": loaded.model_name,
                  "threshold": ONLINE_THRESHOLD if scorer == "online"
                  else getattr(loaded.predictor, "threshold", None),
                  "scorer": scorer, "messages": messages}
        if len(messages) == 1:
            answer.update(messages[0])
        return answer

    def learn(self, body, query, content_type):
        """A label for a message id or a raw message -> the label log's entry."""
        raw = None
        if (content_type or "").split(";")[0].strip() == "application/json":
            try:
                request = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                raise RequestError(400, "the body is not JSON: %s" % error) from None
            if not isinstance(request, dict):
                raise RequestError(400, "the body must be a JSON object")
            label, message_id = request.get("label"), request.get("message_id")
            if isinstance(request.get("message"), str):
                raw = request["message"].encode("utf-8", "surrogateescape")
        else:
            label, message_id, raw = query.get("label"), None, body
        try:
            label = int(label)
            if label not in (0, 1):
                raise ValueError
        except (TypeError, ValueError):
            raise RequestError(400, "label must be 0 or 1, not %r" % (label,)) from None
        record = None
        if raw is not None:
            record = self.parse(raw)[0]
            message_id = record["message_id"]
        if not isinstance(message_id, str) or not message_id:
            raise RequestError(400, "give a message_id or a message")
        with self.lock:
            if record is None:
                record, raw = self.recent.get(message_id), self.recent_raw.get(message_id)
            entry = {"message_id": message_id, "label": label, "when": _now(),
                     "why": "jeeves serve /learn", "version": self.current.version}
            if raw is not None:
                digest = hashlib.sha256(raw).hexdigest()
                path = os.path.join(self.model_dir, LEARNED_MAIL, digest + ".eml")
                if not os.path.exists(path):
                    write_atomically(path, raw)
                entry["mail"] = "%s/%s.eml" % (LEARNED_MAIL, digest)
            online = self.current.online
            entry["online"] = bool(online is not None and record is not None)
            offset = append_line(os.path.join(self.model_dir, LABEL_LOG),
                                 json.dumps(entry, sort_keys=True))
            if entry["online"]:
                online.learn([record], [label])
                self.learned_online.append((offset, record, label))
            self.counts["learned"] += 1
        self.log("%s learned label=%d message_id=<%s>%s" % (
            _now(), label, message_id, " (online model updated)" if entry["online"] else ""))
        return entry

    def health(self):
        loaded = self.model()
        with self.lock:
            counts = dict(self.counts)
        answer = {"status": "ok", "version": loaded.version, "model_name": loaded.model_name,
                  "uptime_seconds": round(time.time() - self.started, 3),
                  "loaded_seconds_ago": round(time.time() - loaded.loaded_at, 3),
                  "online": loaded.online is not None, "counts": counts,
                  "scorer": self.scorer_of(loaded, None)}
        if loaded.online is not None:
            answer["online_label_seq"] = loaded.online_copy.label_seq
        if loaded.online is not None and hasattr(loaded.online, "n_seen"):
            seen = loaded.online.n_seen
            answer["online_seen"] = {str(key): int(value) for key, value in dict(seen).items()} \
                if hasattr(seen, "items") else [int(value) for value in seen]
        return answer


def append_line(path, line):
    """Append ``line`` to ``path`` in one write (O_APPEND), fsync'd -> its offset.
    A line left without its end by a kill is ended first, so a reader that skips
    it loses nothing after it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        end = os.lseek(descriptor, 0, os.SEEK_END)
        data = line.encode("utf-8") + b"\n"
        if end:
            with open(path, "rb") as handle:
                handle.seek(end - 1)
                if handle.read(1) != b"\n":
                    data = b"\n" + data
                    end += 1
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return end


def printable(text, limit=300):
    """``text`` on one line of at most ``limit`` characters, control and other
    unprintable characters escaped (a request may carry any bytes)."""
    text = "".join(c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256
                   else "\\u%04x" % ord(c) for c in str(text))
    return text if len(text) <= limit else text[:limit] + "..."


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every answer is JSON; one log line per refusal."""

    protocol_version = "HTTP/1.1"
    server_version = "jeeves-serve"
    timeout = REQUEST_TIMEOUT
    daemon = None  # set by make_server

    # -- logging: refusals, reloads and learns only (a score is not logged)

    def log_request(self, code="-", size="-"):
        pass

    def log_error(self, format, *args):
        pass  # send_error logs its one line itself

    def address_string(self):
        return self.client_address[0] if isinstance(self.client_address, tuple) \
            and self.client_address else "unix"

    def send_error(self, code, message=None, explain=None):
        message = message or self.responses.get(code, ("error",))[0]
        what = "%s %s" % (getattr(self, "command", None) or "-",
                          getattr(self, "path", None) or "-")
        self.daemon.log("%s error: %d %s" % (_now(), code, printable("%s: %s" % (what, message))))
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # a request line that was no HTTP: answer anyway
        with self.daemon.lock:
            self.daemon.counts["errors"] += 1
        body = (json.dumps({"error": str(message), "status": code}) + "\n").encode("utf-8")
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if getattr(self, "command", None) != "HEAD" and code >= 200 \
                    and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass
        self.close_connection = True

    def _answer(self, value, status=200):
        body = (json.dumps(value, sort_keys=True) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(411, "send the body with a Content-Length, not chunked")
        if length is None:
            raise RequestError(411, "a Content-Length is required")
        try:
            length = int(length)
            if length < 0:
                raise ValueError
        except ValueError:
            raise RequestError(400, "bad Content-Length %r" % length) from None
        if length > self.daemon.max_bytes:
            raise RequestError(413, "the body has %d bytes, the limit is %d (--max-bytes)"
                               % (length, self.daemon.max_bytes))
        body = self.rfile.read(length)
        if len(body) != length:
            raise RequestError(400, "the body ended after %d of %d bytes" % (len(body), length))
        return body

    def _route(self, method):
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        routes = {("POST", "/score"): lambda: self.daemon.score(self._body(), query),
                  ("POST", "/learn"): lambda: self.daemon.learn(
                      self._body(), query, self.headers.get("Content-Type")),
                  ("GET", "/health"): self.daemon.health}
        if (method, parts.path) not in routes:
            if any(path == parts.path for _, path in routes):
                raise RequestError(405, "%s is not allowed on %s" % (method, parts.path))
            raise RequestError(404, "no such endpoint %s (POST /score, POST /learn, "
                                    "GET /health)" % parts.path)
        return routes[(method, parts.path)]()

    def _handle(self, method):
        try:
            self._answer(self._route(method))
        except RequestError as error:
            self.send_error(error.status, str(error))
        except UserError as error:
            self.send_error(400, str(error))
        except Exception as error:  # a bug or the machine's: this request fails, not the daemon
            self.send_error(500, "%s: %s" % (type(error).__name__, error))

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The HTTP server on a unix stream socket."""

    daemon_threads = True
    block_on_close = False

    def get_request(self):
        request, _ = super().get_request()
        return request, ("unix", 0)


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def parse_listen(listen):
    """``127.0.0.1:PORT`` -> ("127.0.0.1", port); UserError for any other host."""
    host, colon, port = (listen or "").rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise UserError("--listen takes 127.0.0.1:PORT, not %r" % listen)
    if host not in ("127.0.0.1", "localhost"):
        raise UserError("--listen binds 127.0.0.1 only (the daemon has no authentication); "
                        "%r refused: use --socket PATH for a private socket" % host)
    return "127.0.0.1", int(port)


def _prepare_socket_path(path):
    """Remove a stale socket at ``path``; UserError when a daemon answers there or
    the path is something else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise UserError("%s exists and is not a socket" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a daemon that died
        return
    finally:
        probe.close()
    raise UserError("a daemon already listens on %s" % path)


def make_server(daemon, listen=None, socket_path=None):
    """The HTTP server of ``daemon`` -> (server, address for clients: a URL)."""
    handler = type("BoundHandler", (Handler,), {"daemon": daemon})
    if socket_path is not None:
        socket_path = os.path.abspath(socket_path)
        _prepare_socket_path(socket_path)
        mask = os.umask(0o177)  # the socket is created 0600, never readable by others
        try:
            server = UnixHTTPServer(socket_path, handler)
        finally:
            os.umask(mask)
        os.chmod(socket_path, 0o600)
        return server, "unix:" + socket_path
    server = LocalHTTPServer(parse_listen(listen), handler)
    return server, "http://127.0.0.1:%d" % server.server_address[1]


def serve(model_dir, listen=None, socket_path=None, max_bytes=DEFAULT_MAX_BYTES, log=print,
          ready=None, scorer=scoring.DEFAULT_SCORER):
    """Load, bind, serve until interrupted; ``ready(address)`` once listening."""
    scoring.bound_memory_for_long_runs()
    daemon = Daemon(model_dir, max_bytes, log, scorer)
    try:
        server, address = make_server(daemon, listen, socket_path)
    except OSError as error:
        raise UserError("cannot listen on %s: %s" % (socket_path or listen, error)) from None
    log("%s serving %s (%s) of %s on %s, scorer %s" % (
        _now(), daemon.current.version, daemon.current.model_name, model_dir, address,
        daemon.scorer_of(daemon.current, None)))
    if ready is not None:
        ready(address)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        if socket_path is not None:
            try:
                os.unlink(os.path.abspath(socket_path))
            except OSError:
                pass
    return 0
