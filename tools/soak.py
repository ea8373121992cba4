"""The soak of `jeeves watch` and `jeeves serve` (issue #27): many messages, server
restarts, a dropped connection (docs/mailbox.md, "Soak").

    python -m tools.soak --messages 20000 --batch 500 --restarts 3 --drops 1 \
        --tag JeevesSoak                                   # make soak

Starts a real Dovecot on 127.0.0.1 (tests/mailbox/dovecot.py: root, the
``dovecot`` user and ``dovecot-imapd``), a relay in front of it that can cut
the connection, a webhook on loopback that counts what it is sent, and
trains a small model bundle (`jeeves run` on 40 spam and 40 ham messages of
../shared/data/spamassassin) unless ``--model`` names one. Then it runs
`jeeves watch` (with ``--tag`` when given) in a child process, connected
through the relay, and `jeeves serve --socket` in another (not with
``--no-serve``), and APPENDs the messages to INBOX in batches, straight to
the server; each message also goes to the daemon, one connection and one
``POST /score`` each, as a mail filter sends it. The messages are
SpamAssassin's (spam and ham, shuffled with ``--seed``, cycled), each with
a Message-ID of its own, ``<soak-SEED-N@jeeves.invalid>``.

Faults, spread over the run, each as soon as the watcher has scored the
first message of a batch: ``--restarts`` restarts of Dovecot (the master and
every process it started end, as under a service manager; same port, same
mail) and ``--drops`` connections cut by the relay (the daemon then gets
half a request and a closed connection).

After each batch, once the watcher's state file records the last UID and it
is connected again (it has scored, notified and saved everything and waits
in IDLE), the soak samples both children's resident memory (VmRSS of
/proc/PID/status) and open file descriptors (/proc/PID/fd, by kind, once
steady for half a second), from outside. At the end it checks:

- every appended message was scored exactly once (one log line each; the
  state's ``scored`` count and ``last_uid`` equal the messages appended);
- every message the bundle flags was notified exactly once and nothing else
  was (the soak scores each message it appends itself, with
  jeeves.models.bundle.load_predictor and the parsing `jeeves predict` uses);
- with ``--tag``, the keyword is on exactly the flagged messages;
- every fault was met: one "lost" line per restart and drop;
- the daemon answered each message once with the bundle's label, and
  refused each cut request;
- resident memory: no sample after the first ``--baseline`` messages (1,000)
  exceeds the level at that point by more than ``--rss-tolerance`` (10%);
- open descriptors: the same count at every sample.

Prints a table of the samples and the checks, writes everything to
``--output`` (JSON), exits 1 when a check fails. ``run_soak`` is the same
soak as a function (tests/mailbox/test_soak.py runs 2,000 messages).
"""

import argparse
import glob
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import imapclient

from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import outcome_of
from jeeves.models.bundle import load_predictor
from jeeves.serve_client import Client, ServerRefused, address_of
from tests.mailbox import dovecot

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "..", "shared", "data")
FOLDER = "INBOX"
# how long the watcher may go without scoring a message before the soak gives up
STALL_SECONDS = 180
LOG_LINE = re.compile(r" uid=(\d+) score=\S+ (FLAGGED|ok) message_id=<([^>]*)>")
UNSCORED_LINE = re.compile(r" uid=(\d+) not scored ")


@dataclass(frozen=True)
class SoakSettings:
    messages: int = 20000
    batch: int = 500
    restarts: int = 3
    drops: int = 1
    baseline: int = 1000
    rss_tolerance: float = 0.10
    seed: int = 0
    data: str = DATA
    tag: str = None  # `jeeves watch --tag`: an IMAP command after each notification
    serve: bool = True  # also feed every message to `jeeves serve`, one connection each

    def __post_init__(self):
        if self.messages < 1 or self.batch < 1:
            raise ValueError("--messages and --batch must be at least 1")
        if self.baseline >= self.messages:
            raise ValueError("--baseline (%d) must be below --messages (%d): the memory "
                             "check needs samples after it" % (self.baseline, self.messages))
        if self.restarts + self.drops > self.batches - 1:
            raise ValueError("%d faults need at least %d batches, not %d" % (
                self.restarts + self.drops, self.restarts + self.drops + 1, self.batches))

    @property
    def batches(self):
        return -(-self.messages // self.batch)

    def fault_plan(self):
        """{batch index: "restart" | "drop"}: the faults spread evenly over the batches
        after the first, alternating restarts and drops."""
        kinds = ["restart"] * self.restarts + ["drop"] * self.drops
        order = sorted(range(len(kinds)), key=lambda i: (i % max(self.restarts, 1), i))
        kinds = [kinds[i] for i in order]
        step = (self.batches - 1) / (len(kinds) + 1)
        return {1 + round(step * (number + 1)): kind for number, kind in enumerate(kinds)}


# -- the messages

def message_pool(data=DATA):
    """SpamAssassin's messages (every group, name order) as raw bytes without their
    mbox "From " line; FileNotFoundError when the corpus is not there."""
    paths = sorted(path for path in glob.glob(os.path.join(data, "spamassassin", "*", "*"))
                   if os.path.isfile(path))
    if not paths:
        raise FileNotFoundError("no SpamAssassin messages under %s"
                                % os.path.join(data, "spamassassin"))
    pool = []
    for path in paths:
        with open(path, "rb") as handle:
            raw = handle.read()
        if raw.startswith(b"From "):
            raw = raw.split(b"\n", 1)[-1]
        pool.append(raw)
    return pool


def with_message_id(raw, message_id):
    """``raw`` with its Message-ID header(s) replaced by ``<message_id>``."""
    newline = b"\r\n" if b"\r\n" in raw[:1000] else b"\n"
    head, separator, body = raw.partition(newline + newline)
    kept, skipping = [], False
    for line in head.split(newline):
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"message-id:")
        if not skipping:
            kept.append(line)
    header = b"Message-ID: <" + message_id.encode("ascii") + b">"
    return newline.join([header] + kept) + separator + body


class Messages:
    """The soak's messages: the pool shuffled by ``seed`` and cycled, each with
    its own Message-ID."""

    def __init__(self, pool, seed):
        self.seed = seed
        self.pool = list(pool)
        random.Random(seed).shuffle(self.pool)

    def message_id(self, number):
        return "soak-%d-%06d@jeeves.invalid" % (self.seed, number)

    def raw(self, number):
        return with_message_id(self.pool[number % len(self.pool)], self.message_id(number))


class Expected:
    """What the bundle makes of each appended message, scored in this process the
    way `jeeves predict` scores a file."""

    def __init__(self, bundle):
        self.predictor = load_predictor(bundle)
        self.flagged, self.unscorable = set(), set()

    def add(self, numbered):
        records, names = [], []
        for number, message_id, raw in numbered:
            outcome = None
            for found in iter_found(raw, "soak:%d" % number, str(number)):
                outcome = outcome_of(found)
                break
            if outcome is None or outcome[0] != "message":
                self.unscorable.add(message_id)
                continue
            records.append(outcome[1])
            names.append(message_id)
        for message_id, prediction in zip(names, self.predictor.predict(records)):
            if prediction["label"] == 1:
                self.flagged.add(message_id)


# -- the servers around the watcher

class Webhook:
    """An HTTP server on 127.0.0.1 counting the message ids POSTed to it."""

    def __init__(self):
        self.notified = Counter()
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.lock:
                    hook.notified.update(row["message_id"] for row in body["flagged"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Relay:
    """A TCP relay on 127.0.0.1 to a local port (the TLS session passes through);
    ``drop()`` cuts every connection it carries at that moment."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(0.2)
        self.connections = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:  # the server is restarting: the client sees a closed connection
                client.close()
                continue
            pair = (client, upstream)
            with self.lock:
                self.connections.add(pair)
            threading.Thread(target=self._relay, args=(pair,), daemon=True).start()

    def _relay(self, pair):
        client, upstream = pair
        peers = {client: upstream, upstream: client}
        try:
            while not self.stopping.is_set():
                ready, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:  # a peer reset the connection
            return
        finally:
            with self.lock:
                self.connections.discard(pair)
            for sock in pair:
                sock.close()

    def wait_connections(self, count):
        """Until the relay carries ``count`` connections (RuntimeError after
        STALL_SECONDS)."""
        deadline = time.monotonic() + STALL_SECONDS
        while True:
            with self.lock:
                if len(self.connections) == count:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("the relay carries %d connections, not %d"
                                   % (len(self.connections), count))
            time.sleep(0.05)

    def drop(self):
        """Cut every open connection -> how many were cut. Both ends see the connection
        end at once; the relay's thread closes the sockets (closing them here, under
        the thread's select, could let a new socket reuse the descriptor)."""
        with self.lock:
            pairs = list(self.connections)
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return len(pairs)

    def close(self):
        self.stopping.set()
        self.drop()
        self.thread.join(timeout=10)
        self.listener.close()


# -- the processes under test

def sample_process(process, name, lines, settle=0.5, most=10.0):
    """(VmRSS in KiB, {kind: count} of its open file descriptors) of a process, read
    from /proc once the descriptors have stayed the same for ``settle`` seconds (at
    most ``most``): a connection a client has just closed takes a server a moment
    to close. A kind is a descriptor's target, "socket", "pipe" or a path."""
    pid = process.pid

    def descriptors():
        if process.poll() is not None:
            raise RuntimeError("%s ended with status %s: %s" % (
                name, process.returncode, "\n".join(lines[-20:])))
        kinds = Counter()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:  # closed meanwhile
                continue
            kinds[target.split(":[", 1)[0]] += 1
        return dict(kinds)

    kinds, deadline = descriptors(), time.monotonic() + most
    while time.monotonic() < deadline:
        time.sleep(settle)
        kinds, previous = descriptors(), kinds
        if kinds == previous:
            break
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    return rss, kinds


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class WatchProcess:
    """`jeeves watch` in a child process; a thread reads its log lines."""

    def __init__(self, url, cafile, bundle, hook_url, state, extra=()):
        env = dict(os.environ, JEEVES_IMAP_PASSWORD=dovecot.PASSWORD)
        self.state = state
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jeeves.cli", "watch", "--imap", url, "--cafile", cafile,
             "--model", bundle, "--notify", hook_url, "--folder", FOLDER, "--state", state]
            + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        self.pid = self.process.pid
        self.logged = 0           # message log lines
        self.scored = Counter()   # message id -> log lines
        self.flagged = Counter()  # message id -> FLAGGED log lines
        self.unscored = 0         # "not scored" lines: messages the parser quarantines
        self.lost = 0
        self.other = []           # the lines that are not a message's: reconnections
        self.progress = threading.Condition()
        self.ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            match = LOG_LINE.search(line)
            with self.progress:
                if match:
                    self.logged += 1
                    self.scored[match.group(3)] += 1
                    if match.group(2) == "FLAGGED":
                        self.flagged[match.group(3)] += 1
                elif UNSCORED_LINE.search(line):
                    self.logged += 1
                    self.unscored += 1
                else:
                    self.lost += " lost: " in line
                    self.other.append(line.rstrip("\n"))
                self.progress.notify_all()
        with self.progress:
            self.ended = True
            self.progress.notify_all()

    def wait_scored(self, count):
        """Until the watcher has logged ``count`` messages; RuntimeError when it ends or
        scores nothing for STALL_SECONDS."""
        with self.progress:
            seen, since = self.logged, time.monotonic()
            while self.logged < count:
                if self.ended:
                    raise RuntimeError("jeeves watch ended with %d of %d messages scored: %s"
                                       % (self.logged, count, "\n".join(self.other[-20:])))
                if self.logged != seen:
                    seen, since = self.logged, time.monotonic()
                elif time.monotonic() - since > STALL_SECONDS:
                    raise RuntimeError("jeeves watch scored nothing for %d s, at %d of %d "
                                       "messages" % (STALL_SECONDS, self.logged, count))
                self.progress.wait(timeout=1.0)

    def saved_state(self):
        try:
            with open(self.state, encoding="utf-8") as handle:
                return json.load(handle)["folders"][FOLDER]
        except (OSError, ValueError, KeyError):
            return {}

    def wait_saved(self, last_uid):
        """Until the state file records ``last_uid``: the watcher has scored, notified and
        saved everything, and waits for new mail."""
        deadline = time.monotonic() + STALL_SECONDS
        while self.saved_state().get("last_uid") != last_uid:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("jeeves watch did not save UID %d (state: %s)"
                                   % (last_uid, self.saved_state()))
            time.sleep(0.05)

    def sample(self):
        return sample_process(self.process, "jeeves watch", self.other)

    def stop(self):
        stop_process(self.process)


class ServeProcess:
    """`jeeves serve` on a unix socket in a child process, fed as a mail filter feeds
    it: one connection and one POST /score per message (jeeves.serve_client)."""

    def __init__(self, bundle, socket_path):
        self.url = "unix:" + socket_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jeeves.cli", "serve", "--model", bundle,
             "--socket", socket_path],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
        self.pid = self.process.pid
        self.lines, self.ready = [], threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(STALL_SECONDS) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("jeeves serve did not start: %s" % "\n".join(self.lines))
        self.answers = Counter()   # message id -> answers
        self.flagged = set()
        self.refused = []

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if " serving " in line:
                self.ready.set()
        self.ready.set()

    def score(self, raws):
        """POST /score each message over a connection of its own."""
        for raw in raws:
            client = Client(self.url, timeout=60)
            try:
                answer = client.request("POST", "/score", raw)
            except ServerRefused as error:
                self.refused.append(str(error))
                continue
            finally:
                client.close()
            for message in answer["messages"]:
                self.answers[message["message_id"]] += 1
                if message["label"] == 1:
                    self.flagged.add(message["message_id"])

    def cut_request(self, raw):
        """Send half a POST /score, then close the connection (a client that dies)."""
        family, address = address_of(self.url)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.connect(address)
            sock.sendall(b"POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d"
                         b"\r\n\r\n" % len(raw) + raw[:len(raw) // 2])

    def health(self):
        client = Client(self.url, timeout=60)
        try:
            return client.request("GET", "/health")
        finally:
            client.close()

    def sample(self):
        return sample_process(self.process, "jeeves serve", self.lines)

    def stop(self):
        stop_process(self.process)


# -- the soak

def train_bundle(directory, data=DATA, per_class=40):
    """A small bundle: `jeeves run` (logistic regression, 2 folds) on the first
    ``per_class`` messages of spam-2 and easy-ham-2 -> the bundle's directory."""
    mail = os.path.join(directory, "mail")
    for label, group in (("spam", "spam-2"), ("ham", "easy-ham-2")):
        os.makedirs(os.path.join(mail, label))
        for path in sorted(glob.glob(os.path.join(data, "spamassassin", group, "*")))[:per_class]:
            shutil.copy(path, os.path.join(mail, label))
    out = os.path.join(directory, "out")
    subprocess.run([sys.executable, "-m", "jeeves.cli", "run", "--input", mail, "--output", out,
                    "--labels", "spam*=1,*ham*=0", "--models", "logistic_regression",
                    "--folds", "2", "--no-graph"], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return os.path.join(out, "model")


def _children(pid):
    """The pids of the processes whose parent is ``pid``, with their names."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # not a process, or one that just ended
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def restart_server(server):
    """Restart Dovecot as a service manager does (systemd's KillMode=control-group):
    the master and every process it started end, and with them their clients'
    connections; then it starts again on the same port with the same mail.
    (Stopping the master alone leaves the running IMAP sessions served.)"""
    started = _children(server.process.pid)
    server.stop()
    for pid in started:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while any(os.path.exists("/proc/%d" % pid) for pid in started):
        if time.monotonic() > deadline:
            raise RuntimeError("Dovecot's processes %s did not end" % started)
        time.sleep(0.05)
    server.restart()


def imap_client(server):
    client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=True, timeout=60,
                                   ssl_context=ssl.create_default_context(cafile=server.cafile))
    client.login(dovecot.USER, dovecot.PASSWORD)
    return client


def tagged_ids(server, tag):
    """The Message-IDs of the messages in the folder that carry the keyword ``tag``."""
    client = imap_client(server)
    try:
        client.select_folder(FOLDER, readonly=True)
        uids = client.search(["KEYWORD", tag])
        found = set()
        for start in range(0, len(uids), 1000):
            fetched = client.fetch(uids[start:start + 1000],
                                   ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for data in fetched.values():
                header = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode("ascii", "replace")
                found.add(header.split("<", 1)[1].split(">", 1)[0])
        return found
    finally:
        client.logout()


def append(server, messages):
    """APPEND ``messages`` (raw bytes) to the folder over one new connection."""
    client = imap_client(server)
    try:
        client.multiappend(FOLDER, messages)
    finally:
        try:
            client.logout()
        except Exception:  # the messages are in: a failed LOGOUT does not matter
            pass


def run_soak(settings, bundle=None, workdir=None, log=print):
    """The soak (module docstring) -> its result: settings, samples, faults and checks."""
    messages = Messages(message_pool(settings.data), settings.seed)
    root = tempfile.mkdtemp(prefix="jeeves-soak-", dir=workdir)
    os.chmod(root, 0o755)  # Dovecot's users must reach its directory inside
    server = relay = hook = watcher = daemon = None
    try:
        if bundle is None:
            log("training a small bundle ...")
            bundle = train_bundle(os.path.join(root, "train"), settings.data)
        expected = Expected(bundle)
        server = dovecot.Dovecot(os.path.join(root, "dovecot")).start()
        relay, hook = Relay(server.port), Webhook()
        watcher = WatchProcess("imaps://%s@127.0.0.1:%d" % (dovecot.USER, relay.port),
                               server.cafile, bundle, hook.url, os.path.join(root, "watch.json"),
                               ["--tag", settings.tag] if settings.tag else [])
        if settings.serve:
            daemon = ServeProcess(bundle, os.path.join(root, "serve.sock"))
        plan = settings.fault_plan()
        samples, faults, appended = [], [], 0
        started = time.monotonic()
        for batch in range(settings.batches):
            numbers = range(appended, min(appended + settings.batch, settings.messages))
            raws = [messages.raw(number) for number in numbers]
            append(server, raws)
            before, appended = appended, numbers[-1] + 1
            fault = plan.get(batch)
            if fault:
                watcher.wait_scored(before + 1)  # the fault comes in the middle of the batch
                at = watcher.logged
                if fault == "restart":
                    restart_server(server)
                    cut = None
                else:
                    cut = relay.drop()
                    if daemon is not None:
                        daemon.cut_request(raws[0])
                faults.append({"kind": fault, "batch": batch, "scored_before": at,
                               "connections_cut": cut})
                log("%s after %d messages scored" % (fault, at))
            expected.add([(number, messages.message_id(number), raw)
                          for number, raw in zip(numbers, raws)])
            if daemon is not None:
                daemon.score(raws)
            watcher.wait_scored(appended)
            watcher.wait_saved(appended)
            # the watcher may have scored the batch before it met the fault: sample once it
            # is connected again (and waits in IDLE), not while it reconnects
            relay.wait_connections(1)
            rss, kinds = watcher.sample()
            sample = {"messages": appended, "rss_kib": rss, "fds": sum(kinds.values()),
                      "fd_kinds": kinds, "seconds": round(time.monotonic() - started, 1),
                      "fault": fault}
            if daemon is not None:
                sample["serve_rss_kib"], kinds = daemon.sample()
                sample["serve_fds"], sample["serve_fd_kinds"] = sum(kinds.values()), kinds
            samples.append(sample)
            log(format_sample(sample))
        state = watcher.saved_state()
        watcher.stop()
        tagged = tagged_ids(server, settings.tag) if settings.tag else None
        result = {"settings": asdict(settings), "watch_pid": watcher.pid, "samples": samples,
                  "faults": faults, "lost_lines": watcher.lost, "state": state,
                  "other_lines": watcher.other}
        result["checks"] = checks(settings, messages, expected, watcher, hook, samples, state,
                                  faults)
        if tagged is not None:
            result["checks"]["tagged_as_flagged"] = {
                "ok": tagged == expected.flagged, "tagged": len(tagged),
                "untagged": sorted(expected.flagged - tagged)[:10],
                "unexpected": sorted(tagged - expected.flagged)[:10]}
        if daemon is not None:
            health = daemon.health()
            result.update(serve_pid=daemon.pid, serve_health=health, serve_lines=daemon.lines)
            result["checks"].update(serve_checks(settings, messages, expected, daemon, health,
                                                 samples))
        return result
    finally:
        for stop in (watcher and watcher.stop, daemon and daemon.stop, relay and relay.close,
                     hook and hook.close, server and server.stop):
            if stop:
                stop()
        shutil.rmtree(root, ignore_errors=True)


def checks(settings, messages, expected, watcher, hook, samples, state, faults):
    """{name: {"ok": bool, ...figures}} of the soak's end."""
    ids = {messages.message_id(number) for number in range(settings.messages)}
    scored, flagged, notified = watcher.scored, watcher.flagged, hook.notified
    out = {}
    out["scored_exactly_once"] = {
        "ok": set(scored) == ids - expected.unscorable
        and all(count == 1 for count in scored.values())
        and watcher.unscored == len(expected.unscorable)
        and state.get("last_uid") == settings.messages
        and state.get("scored") == len(ids - expected.unscorable),
        "appended": len(ids), "unscorable": len(expected.unscorable),
        "not_scored_lines": watcher.unscored,
        "log_lines": sum(scored.values()), "distinct": len(scored),
        "state_scored": state.get("scored"), "state_last_uid": state.get("last_uid")}
    doubled = sorted(message_id for message_id, count in notified.items() if count > 1)
    out["notified_exactly_once"] = {
        "ok": set(notified) == expected.flagged == set(flagged) and not doubled,
        "expected": len(expected.flagged), "notified": len(notified),
        "notifications": sum(notified.values()), "doubled": doubled[:10],
        "missing": sorted(expected.flagged - set(notified))[:10],
        "unexpected": sorted(set(notified) - expected.flagged)[:10]}
    out["faults_met"] = {"ok": len(faults) == settings.restarts + settings.drops
                         and watcher.lost >= len(faults),
                         "faults": len(faults), "lost_lines": watcher.lost}
    out["rss_within_tolerance"] = rss_check(settings, samples, "rss_kib")
    out["fds_constant"] = fds_check(samples, "fds")
    return out


def serve_checks(settings, messages, expected, daemon, health, samples):
    """The daemon's share of the checks: each message answered once, as the bundle
    scores it; the cut requests refused; its memory and descriptors."""
    ids = {messages.message_id(number) for number in range(settings.messages)}
    answers, scorable = daemon.answers, ids - expected.unscorable
    doubled = sorted(message_id for message_id, count in answers.items() if count > 1)
    return {
        "serve_answered_exactly_once": {
            "ok": set(answers) == scorable and not doubled and daemon.flagged == expected.flagged
            and health["counts"].get("scored") == len(scorable),
            "answered": len(answers), "doubled": doubled[:10],
            "missing": sorted(scorable - set(answers))[:10],
            "flagged": len(daemon.flagged), "expected_flagged": len(expected.flagged),
            "health_scored": health["counts"].get("scored"),
            "refused": len(daemon.refused)},
        "serve_cut_requests_refused": {
            "ok": health["counts"].get("errors") == settings.drops,
            "cut": settings.drops, "health_errors": health["counts"].get("errors")},
        "serve_rss_within_tolerance": rss_check(settings, samples, "serve_rss_kib"),
        "serve_fds_constant": fds_check(samples, "serve_fds"),
    }


def rss_check(settings, samples, key):
    """No sample after the baseline's above the baseline's level by more than the
    tolerance."""
    baseline = next(sample for sample in samples if sample["messages"] >= settings.baseline)
    later = [sample[key] for sample in samples if sample["messages"] > baseline["messages"]]
    limit = baseline[key] * (1 + settings.rss_tolerance)
    # not a check, a figure: a cache that fills tells from a leak by the second half
    half = next(sample for sample in samples if sample["messages"] >= settings.messages / 2)
    return {"ok": bool(later) and max(later) <= limit,
            "baseline_messages": baseline["messages"], "baseline_kib": baseline[key],
            "max_later_kib": max(later, default=None), "final_kib": samples[-1][key],
            "limit_kib": round(limit),
            "growth": round(max(later, default=0) / baseline[key] - 1, 4),
            "growth_in_second_half": round(samples[-1][key] / half[key] - 1, 4)}


def fds_check(samples, key):
    fds = [sample[key] for sample in samples]
    return {"ok": len(set(fds)) == 1, "min": min(fds), "max": max(fds)}


def format_sample(sample):
    return "%6d messages  watch %7.1f MiB %3d fds%s  %7.1f s%s" % (
        sample["messages"], sample["rss_kib"] / 1024, sample["fds"],
        "  serve %7.1f MiB %3d fds" % (sample["serve_rss_kib"] / 1024, sample["serve_fds"])
        if "serve_rss_kib" in sample else "", sample["seconds"],
        "  (%s)" % sample["fault"] if sample["fault"] else "")


def format_result(result):
    serve = "serve_rss_kib" in result["samples"][0]
    columns = ["messages", "watch RSS MiB", "watch fds"] + \
        ["serve RSS MiB", "serve fds"] * serve + ["seconds", "fault"]
    rows = [[str(sample["messages"]), "%.1f" % (sample["rss_kib"] / 1024), str(sample["fds"])]
            + (["%.1f" % (sample["serve_rss_kib"] / 1024), str(sample["serve_fds"])]
               if serve else [])
            + ["%.1f" % sample["seconds"], sample["fault"] or ""]
            for sample in result["samples"]]
    widths = [max(len(row[i]) for row in rows + [columns]) for i in range(len(columns))]
    lines = [""] + ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip()
                    for row in [columns, ["-" * width for width in widths]] + rows]
    lines.append("")
    for name, check in result["checks"].items():
        figures = ", ".join("%s %s" % (key, value) for key, value in check.items()
                            if key != "ok" and value not in ([], None))
        lines.append("%-4s %s: %s" % ("ok" if check["ok"] else "FAIL", name, figures))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = SoakSettings()
    parser.add_argument("--messages", type=int, default=defaults.messages)
    parser.add_argument("--batch", type=int, default=defaults.batch,
                        help="messages per APPEND batch (%(default)s)")
    parser.add_argument("--restarts", type=int, default=defaults.restarts,
                        help="Dovecot restarts (%(default)s)")
    parser.add_argument("--drops", type=int, default=defaults.drops,
                        help="connections cut by the relay (%(default)s)")
    parser.add_argument("--baseline", type=int, default=defaults.baseline,
                        help="messages after which memory is the baseline (%(default)s)")
    parser.add_argument("--rss-tolerance", type=float, default=defaults.rss_tolerance,
                        help="allowed growth over the baseline (%(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--data", default=defaults.data,
                        help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--tag", metavar="KEYWORD",
                        help="run the watcher with --tag KEYWORD (default: without)")
    parser.add_argument("--no-serve", dest="serve", action="store_false",
                        help="soak `jeeves watch` alone, without `jeeves serve`")
    parser.add_argument("--model", help="a bundle to watch with (default: train a small one)")
    parser.add_argument("--output", default=os.path.join(REPO, ".cache", "soak", "soak.json"),
                        help="where the JSON result goes (%(default)s)")
    args = parser.parse_args(argv)
    reason = dovecot.unavailable()
    if reason:
        print("soak: no Dovecot: %s" % reason, file=sys.stderr)
        return 2
    try:
        settings = SoakSettings(messages=args.messages, batch=args.batch,
                                restarts=args.restarts, drops=args.drops,
                                baseline=args.baseline, rss_tolerance=args.rss_tolerance,
                                seed=args.seed, data=args.data, tag=args.tag,
                                serve=args.serve)
        result = run_soak(settings, bundle=args.model)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print("soak: %s" % error, file=sys.stderr)
        return 2
    print(format_result(result))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
    print("\nresult: %s" % args.output)
    return 0 if all(check["ok"] for check in result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
