"""`jeeves serve` (scripts/serve.py): scores equal to `jeeves predict`, reload on a
new version, bad requests refused one line each while the daemon keeps
serving, a 0600 unix socket, 127.0.0.1 only.

The daemon runs in a thread of the test (scripts/serve.py's make_server)
except where the command itself is tested; waits are bounded.
"""

import json
import os
import shutil
import socket
import stat
import threading

import pytest

from jeeves import cli, serve
from jeeves.models import versions
from jeeves.models.bundle import METADATA_FILE, SCORER_FILE
from jeeves.serve_client import Client, ServerRefused
from tests.fixtures.tiny_corpus import write_corpus

MEETING = (b"From: boss@example.com\r\nTo: me@example.com\r\nSubject: Can we meet Tuesday?\r\n"
           b"Message-ID: <new-meeting@example.com>\r\n\r\nCould we meet on Tuesday at 3pm in "
           b"the conference room to discuss the budget? Let me know when you are free.\r\n")
OTHER = (b"From: desk@example.com\nTo: me@example.com\nSubject: Gas prices report\n"
         b"Message-ID: <new-report@example.com>\n\nAttached is the daily report of gas "
         b"prices at Henry Hub. Prices rose two percent.\n")
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(the tiny corpus, a `jeeves run` bundle with the numpy scorer)."""
    root = tmp_path_factory.mktemp("serve")
    write_corpus(str(root / "corpus"))
    assert cli.main(["run", "--input", str(root / "corpus"), "--output", str(root / "out"),
                     "--labels", "meeting*=1,other*=0", "--models", "logistic_regression",
                     "--folds", "2", "--target-recall", "0.9", "--no-graph"]) == 0
    return root / "corpus", str(root / "out" / "model")


@pytest.fixture(scope="module")
def email_bundle(trained, tmp_path_factory):
    """A `jeeves run` bundle of the email model (a pipeline of feature groups: the
    full way, scikit-learn)."""
    corpus, _ = trained
    out = tmp_path_factory.mktemp("serve-email") / "out"
    assert cli.main(["run", "--input", str(corpus), "--output", str(out), "--labels",
                     "meeting*=1,other*=0", "--models", "email_logistic_regression",
                     "--feature-groups", "text,headers,cues", "--no-ablation", "--folds", "2",
                     "--target-recall", "0.9", "--no-graph"]) == 0
    return str(out / "model")


def copy_bundle(source, directory, scorer=True):
    """A copy of a bundle; without ``scorer`` as saved before scorer.npz existed (it
    then loads and scores the full way, with scikit-learn)."""
    shutil.copytree(source, directory, dirs_exist_ok=True)
    if os.path.exists(os.path.join(directory, "_SUCCESS")):
        os.remove(os.path.join(directory, "_SUCCESS"))
    if not scorer:
        os.remove(os.path.join(directory, SCORER_FILE))
        path = os.path.join(directory, METADATA_FILE)
        with open(path) as handle:
            meta = json.load(handle)
        del meta["sha256"][SCORER_FILE]
        with open(path, "w") as handle:
            json.dump(meta, handle)


class Running:
    """A daemon in a thread of the test, its log lines in ``log``."""

    def __init__(self, model_dir, socket_path=None, **options):
        self.log = []
        self.daemon = serve.Daemon(model_dir, log=self.log.append, **options)
        self.server, self.url = serve.make_server(self.daemon, listen="127.0.0.1:0",
                                                  socket_path=socket_path)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def client(self):
        return Client(self.url)

    def raw(self, payload):
        """Send ``payload`` on a new connection -> the answer's status line (str)."""
        host, port = self.server.server_address
        with socket.create_connection((host, port), timeout=30) as connection:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
            answer = b""
            while True:  # a refusal closes the connection
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
        return answer.split(b"\r\n", 1)[0].decode("latin-1")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=30)


@pytest.fixture
def running():
    started = []

    def start(*args, **options):
        started.append(Running(*args, **options))
        return started[-1]

    yield start
    for daemon in started:
        daemon.stop()


def predicted(bundle, paths, capsys):
    """{message_id: row} of `jeeves predict --model bundle PATHS`, the reference."""
    capsys.readouterr()
    assert cli.main(["predict", "--model", bundle] + [str(path) for path in paths]) == 0
    return {row["message_id"]: row for row in map(json.loads,
                                                  capsys.readouterr().out.splitlines())}


def message_files(corpus, tmp_path):
    (tmp_path / "meeting.eml").write_bytes(MEETING)
    (tmp_path / "other.eml").write_bytes(OTHER)
    return sorted(corpus.glob("*/*.eml")) + [tmp_path / "meeting.eml", tmp_path / "other.eml"]


@pytest.mark.parametrize("scorer", [True, False, None],
                         ids=["numpy-scorer", "full-bundle", "email-pipeline"])
def test_scores_equal_jeeves_predict(trained, running, tmp_path, capsys, scorer, request):
    corpus, bundle = trained
    email = scorer is None
    if email:
        bundle, scorer = request.getfixturevalue("email_bundle"), True
    model = tmp_path / "model"
    versions.deploy(model, lambda directory: copy_bundle(bundle, directory, scorer), {})
    paths = message_files(corpus, tmp_path)
    expected = predicted(str(model), paths, capsys)
    daemon = running(model)
    client = daemon.client()
    tops = {}
    for path in paths:
        answer = client.score(path.read_bytes())
        row = expected[answer["message_id"]]
        assert abs(answer["score"] - row["score"]) <= TOLERANCE
        assert answer["label"] == row["label"] and answer["version"] == "v000001"
        top = answer["top"]
        assert 0 < len(top) <= 5
        magnitudes = [abs(value) for _, value in top]
        assert magnitudes == sorted(magnitudes, reverse=True)
        tops[answer["message_id"]] = top
    assert {label for label in (row["label"] for row in expected.values())} == {0, 1}
    health = client.health()
    assert health["counts"]["scored"] == len(paths) and health["version"] == "v000001"
    if email:
        assert any(":" in name for top in tops.values() for name, _ in top)  # headers, cues
        return
    # the fast and the full way explain alike: compare with the other kind of bundle
    other = tmp_path / "other"
    copy_bundle(bundle, str(other), not scorer)
    client_other = running(other).client()
    for path in paths[:4]:
        answer = client_other.score(path.read_bytes())
        mine = tops[answer["message_id"]]
        assert [name for name, _ in answer["top"]] == [name for name, _ in mine]
        assert all(abs(a - b) <= TOLERANCE for (_, a), (_, b) in zip(answer["top"], mine))


def test_an_mbox_body_gives_one_answer_per_message(trained, running):
    _, bundle = trained
    daemon = running(bundle)
    mbox = b"From a@b Mon Jan  1 00:00:00 2024\n" + MEETING.replace(b"\r\n", b"\n") \
        + b"\nFrom c@d Mon Jan  1 00:00:00 2024\n" + OTHER
    answer = daemon.client().score(mbox)
    assert [message["message_id"] for message in answer["messages"]] == [
        "new-meeting@example.com", "new-report@example.com"]
    assert answer["version"] == "v000000"  # a plain bundle is version 0


def test_a_new_version_is_served_without_a_restart(trained, running, tmp_path):
    _, bundle = trained
    model = tmp_path / "model"
    versions.deploy(model, lambda directory: copy_bundle(bundle, directory), {})
    daemon = running(model)
    client = daemon.client()
    assert client.score(MEETING)["version"] == "v000001"
    versions.deploy(model, lambda directory: copy_bundle(bundle, directory, False), {})
    assert client.score(MEETING)["version"] == "v000002"
    assert client.health()["counts"]["reloads"] == 1
    assert [line for line in daemon.log if "switched" in line] and \
        "from v000001 to v000002" in daemon.log[-1]
    # a CURRENT naming a path outside the directory: one line, v000002 goes on serving
    (model / "CURRENT").write_text("../elsewhere\n")
    lines = len(daemon.log)
    for _ in range(3):
        assert client.score(MEETING)["version"] == "v000002"
    assert len(daemon.log) == lines + 1 and "v000002 keeps serving" in daemon.log[-1]


BAD_REQUESTS = [
    ("malformed request line", b"GARBAGE\r\n\r\n", 400),
    ("no HTTP at all", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    ("bad header", b"POST /score HTTP/1.1\r\nContent-Length: twelve\r\n\r\n", 400),
    ("huge body, refused from its Content-Length", b"POST /score HTTP/1.1\r\n"
     b"Content-Length: 50000000\r\n\r\n", 413),
    ("no length", b"POST /score HTTP/1.1\r\n\r\n", 411),
    ("not mail", b"POST /score HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world", 400),
    ("binary", b"POST /score HTTP/1.1\r\nContent-Length: 4\r\n\r\n\x00\x01\x02\x03", 400),
    ("version outside", b"POST /score?version=../../etc HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
     400),
    ("unknown version", b"POST /score?version=v000042 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
     404),
    ("path traversal", b"GET /../../etc/passwd HTTP/1.1\r\n\r\n", 404),
    ("wrong method", b"GET /score HTTP/1.1\r\n\r\n", 405),
    ("learn without a label", b"POST /learn HTTP/1.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 2\r\n\r\n{}", 400),
    ("learn with bad JSON", b"POST /learn HTTP/1.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 1\r\n\r\n{", 400),
]


def test_each_bad_request_gets_a_4xx_and_one_log_line(trained, running):
    _, bundle = trained
    daemon = running(bundle, max_bytes=1_000_000)
    for what, payload, status in BAD_REQUESTS:
        before = len(daemon.log)
        line = daemon.raw(payload)
        assert line.split()[1] == str(status), (what, line)
        assert len(daemon.log) == before + 1, (what, daemon.log[before:])
        assert " error: %d " % status in daemon.log[-1] and "\n" not in daemon.log[-1]
        assert daemon.client().score(MEETING)["message_id"] == "new-meeting@example.com"
    assert daemon.client().health()["counts"]["errors"] == len(BAD_REQUESTS)


def test_learn_appends_to_the_label_log(trained, running, tmp_path):
    _, bundle = trained
    model = tmp_path / "model"
    versions.deploy(model, lambda directory: copy_bundle(bundle, directory), {})
    client = running(model).client()
    client.score(OTHER)
    first = client.learn(1, message_id="new-report@example.com")
    second = client.learn(0, message=MEETING.decode())
    with pytest.raises(ServerRefused, match="label must be 0 or 1"):
        client.learn(7, message_id="x@example.com")
    entries = [json.loads(line) for line in (model / serve.LABEL_LOG).read_text().splitlines()]
    assert entries == [first, second]
    assert [(entry["message_id"], entry["label"]) for entry in entries] == [
        ("new-report@example.com", 1), ("new-meeting@example.com", 0)]
    assert (model / second["mail"]).read_bytes() == MEETING
    assert entries[0]["online"] is False  # the version has no online model
    assert client.health()["counts"]["learned"] == 2


def test_the_socket_is_private_and_not_shared(trained, running, tmp_path):
    _, bundle = trained
    path = tmp_path / "jeeves.sock"
    daemon = running(bundle, socket_path=str(path))
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert daemon.url == "unix:" + str(path)
    assert Client(daemon.url).score(OTHER)["message_id"] == "new-report@example.com"
    with pytest.raises(Exception, match="already listens"):
        serve.make_server(daemon.daemon, socket_path=str(path))


@pytest.mark.parametrize("address", ["0.0.0.0:8025", "192.168.1.2:80", "[::]:80",
                                     "example.com:80", "8025"])
def test_only_127_0_0_1_is_bound(trained, capsys, address):
    _, bundle = trained
    assert cli.main(["serve", "--model", bundle, "--listen", address]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "127.0.0.1" in error


# -- the client: `jeeves predict --server`, the filter, the fallback

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEAVY = ("numpy", "scipy", "sklearn", "skops")
# runs `jeeves predict ARGS...` with stdin and reports the heavy modules it imported
PREDICT_AND_REPORT = """
import sys
from jeeves import cli
status = cli.main(sys.argv[1:])
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(%r))
sys.stderr.write("HEAVY %%s\\n" %% ",".join(heavy))
sys.exit(status)
""" % (HEAVY,)


def predict_process(args, stdin=b"", env=None):
    import subprocess
    import sys

    environment = dict(os.environ, PYTHONPATH=REPO)
    environment.pop("JEEVES_SERVER", None)
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-c", PREDICT_AND_REPORT, "predict"] + args,
                          input=stdin, capture_output=True, env=environment, timeout=120)
    err = done.stderr.decode().splitlines()
    heavy = [line for line in err if line.startswith("HEAVY ")]
    assert len(heavy) == 1, done.stderr.decode()
    return done.returncode, done.stdout, [line for line in err if line not in heavy], \
        heavy[0][len("HEAVY "):]


def test_the_filter_uses_the_daemon_without_numpy_or_scikit_learn(trained, running, tmp_path):
    _, bundle = trained
    daemon = running(bundle, socket_path=str(tmp_path / "s.sock"))
    local = predict_process(["--model", bundle, "--add-header", "-"], MEETING)
    assert local[0] == 0 and local[3] != ""  # the bundle's way imports numpy
    served = predict_process(["--model", bundle, "--add-header", "-", "--server", daemon.url],
                             MEETING)
    assert served == (0, local[1], [], "")
    assert b"X-Jeeves-Score:" in served[1]
    # $JEEVES_SERVER, an mbox
    mbox = b"From a@b Mon Jan  1 00:00:00 2024\n" + MEETING.replace(b"\r\n", b"\n") \
        + b"\nFrom c@d Mon Jan  1 00:00:00 2024\n" + OTHER
    by_environment = predict_process(["--model", bundle, "--add-header", "-"], mbox,
                                     {"JEEVES_SERVER": daemon.url})
    assert by_environment[3] == "" and by_environment[1] == predict_process(
        ["--model", bundle, "--add-header", "-"], mbox)[1]
    assert daemon.daemon.counts["score_requests"] == 2


def test_predict_server_gives_the_same_json_lines(trained, running, tmp_path, capsys):
    corpus, bundle = trained
    daemon = running(bundle)
    paths = [str(path) for path in message_files(corpus, tmp_path)[:3]] + [str(corpus)]
    capsys.readouterr()
    assert cli.main(["predict", "--model", bundle] + paths) == 0
    local = capsys.readouterr().out
    assert cli.main(["predict", "--model", bundle, "--server", daemon.url] + paths) == 0
    served = capsys.readouterr()
    assert served.err == ""
    for mine, theirs in zip(map(json.loads, served.out.splitlines()),
                            map(json.loads, local.splitlines())):
        assert abs(mine.pop("score") - theirs.pop("score")) <= TOLERANCE
        assert mine == theirs
    assert len(served.out.splitlines()) == len(local.splitlines()) == 3 + 16


def test_without_a_daemon_the_client_loads_the_bundle(trained, tmp_path):
    _, bundle = trained
    local = predict_process(["--model", bundle, "--add-header", "-"], MEETING)
    for url in ("unix:" + str(tmp_path / "nobody.sock"), "http://127.0.0.1:9"):
        fallback = predict_process(["--model", bundle, "--add-header", "-", "--server", url],
                                   MEETING)
        assert fallback[0] == 0 and fallback[1] == local[1]
        assert len(fallback[2]) == 1 and "not answering" in fallback[2][0]


def test_jeeves_serve_runs_until_terminated(trained, tmp_path):
    import signal
    import subprocess
    import sys

    _, bundle = trained
    path = tmp_path / "serve.sock"
    child = subprocess.Popen([sys.executable, "-m", "jeeves.cli", "serve", "--model", bundle,
                              "--socket", str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ, PYTHONPATH=REPO))
    try:
        first = child.stdout.readline()
        assert "serving v000000" in first and "unix:" + str(path) in first
        assert Client("unix:" + str(path)).score(MEETING)["version"] == "v000000"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not path.exists()


class StubOnline:
    """Stands in for jeeves.models.online.OnlineModel (interface of notes: load,
    score, learn, n_seen): a score that is the share of positive labels learnt."""

    loaded = []

    def __init__(self):
        self.labels = []

    @classmethod
    def load(cls, directory):
        model = cls()
        cls.loaded.append((directory, model))
        return model

    def score(self, records):
        share = sum(self.labels) / len(self.labels) if self.labels else 0.5
        return [share for _ in records]

    def learn(self, records, labels):
        assert all(isinstance(record, dict) and record["message_id"] for record in records)
        self.labels.extend(labels)

    @property
    def n_seen(self):
        return {0: self.labels.count(0), 1: self.labels.count(1)}


def test_a_version_with_an_online_model_learns_in_memory(trained, running, tmp_path,
                                                          monkeypatch):
    import types

    _, bundle = trained
    stub = types.ModuleType("jeeves.models.online")
    stub.OnlineModel = StubOnline
    monkeypatch.setitem(__import__("sys").modules, "jeeves.models.online", stub)

    def write(directory):
        copy_bundle(bundle, directory)
        os.makedirs(os.path.join(directory, "online"))

    model = tmp_path / "model"
    versions.deploy(model, write, {})
    daemon = running(model)
    client = daemon.client()
    assert StubOnline.loaded[-1][0] == str(model / "v000001" / "online")
    assert client.score(MEETING)["online_score"] == 0.5
    entry = client.learn(1, message_id="new-meeting@example.com")  # scored just before
    assert entry["online"] is True
    assert client.learn(0, message=OTHER.decode())["online"] is True
    assert client.learn(1, message_id="never-scored@example.com")["online"] is False
    assert client.learn(1, message=MEETING.decode())["online"] is True
    assert client.score(MEETING)["online_score"] == 2 / 3  # 1, 0, 1 learnt
    health = client.health()
    assert health["online"] is True and health["online_seen"] == {"0": 1, "1": 2}


def test_the_real_online_model_learns_a_correction(trained, running, tmp_path):
    online = pytest.importorskip("jeeves.models.online")
    _, bundle = trained

    def write(directory):
        copy_bundle(bundle, directory)
        online.OnlineModel.new().save(os.path.join(directory, "online"))

    model = tmp_path / "model"
    versions.deploy(model, write, {})
    client = running(model).client()
    before = client.score(MEETING)["online_score"]
    assert client.learn(1, message_id="new-meeting@example.com")["online"] is True
    after = client.score(MEETING)["online_score"]
    assert after > before
    assert client.health()["online_seen"] == [0, 1]


def test_scorer_online_without_an_online_model_scores_batch_and_says_so_once(
        trained, running, tmp_path, capsys):
    corpus, bundle = trained
    daemon = running(bundle, scorer="online")
    client = daemon.client()
    answers = [client.score(MEETING) for _ in range(3)]
    assert {answer["scorer"] for answer in answers} == {"batch"}
    assert sum("has no online model" in line for line in daemon.log) == 1
    paths = message_files(corpus, tmp_path)[:3]
    expected = predicted(bundle, paths, capsys)
    assert cli.main(["predict", "--model", bundle, "--scorer", "online"]
                    + [str(path) for path in paths]) == 0
    out, err = capsys.readouterr()
    assert {row["message_id"]: row for row in map(json.loads, out.splitlines())} == expected
    assert err.count("\n") == 1 and "has no online model; scoring with the batch model" in err


def test_scorer_online_scores_with_the_versions_online_model(trained, running, tmp_path,
                                                              capsys):
    online = pytest.importorskip("jeeves.models.online")
    _, bundle = trained
    record = serve.Daemon(bundle, log=lambda line: None).parse(MEETING)[0]
    taught = online.OnlineModel.new().learn([record], [1])

    def write(directory):
        copy_bundle(bundle, directory)
        taught.save(os.path.join(directory, "online"))

    model = tmp_path / "model"
    versions.deploy(model, write, {})
    expected = float(taught.score([record])[0])
    (tmp_path / "meeting.eml").write_bytes(MEETING)
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(model), "--scorer", "online",
                     str(tmp_path / "meeting.eml")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert abs(row["score"] - expected) <= TOLERANCE and row["label"] == int(expected >= 0.5)
    daemon = running(model)  # the default scorer; ?scorer=online per request
    client = daemon.client()
    batch = client.score(MEETING)
    assert batch["scorer"] == "batch" and abs(batch["online_score"] - expected) <= TOLERANCE
    answer = client.request("POST", "/score?scorer=online", MEETING)
    assert answer["scorer"] == "online" and abs(answer["score"] - expected) <= TOLERANCE
    assert answer["top"] and all(len(name) == 4 for name, _ in answer["top"])  # 4-grams
    assert cli.main(["predict", "--model", str(model), "--scorer", "online", "--server",
                     daemon.url, str(tmp_path / "meeting.eml")]) == 0
    assert abs(json.loads(capsys.readouterr().out)["score"] - expected) <= TOLERANCE
    with pytest.raises(ServerRefused, match="scorer is batch or online"):
        client.request("POST", "/score?scorer=bayes", MEETING)


def test_long_runs_bound_their_caches_to_a_steady_size(monkeypatch):
    """`jeeves serve` and `watch` call scoring.bound_memory_for_long_runs first:
    the lemma memo becomes a least-recently-used cache and each parser memo a
    smaller one, each full early and then the same size (the soak's memory
    bound, docs/mailbox.md "Soak"); what they answer is unchanged."""
    from jeeves import scoring
    from jeeves.features import parsing, text

    # restored after the test: the bounds are the process's from here on
    monkeypatch.setattr(text, "LEMMA_MEMO_LIMIT", text.LEMMA_MEMO_LIMIT)
    memos = {name: value for name, value in vars(parsing).items()
             if callable(getattr(value, "cache_info", None))}
    assert "_address_pairs" in memos
    for name, memo in memos.items():
        monkeypatch.setattr(parsing, name, memo)
    bound = scoring.LONG_RUNNING_PARSER_MEMO
    values = ["Person %d <p%d@example.com>, q%d@example.com" % (n, n, n)
              for n in range(bound + 100)]
    expected = [parsing.parse_addresses([value]) for value in values]
    unbounded = text.build_lemma_filter(text.config_with_defaults({}))

    scoring.bound_caches_for_long_runs()
    assert text.LEMMA_MEMO_LIMIT == scoring.LONG_RUNNING_LEMMA_MEMO
    for name in memos:
        assert getattr(parsing, name).cache_info().maxsize <= bound, name
    assert [parsing.parse_addresses([value]) for value in values] == expected
    assert parsing._address_pairs.cache_info().currsize == bound
    kept = dict(vars(parsing))
    scoring.bound_caches_for_long_runs()  # a second call keeps the memos it made
    assert all(getattr(parsing, name) is kept[name] for name in memos)

    bounded = text.build_lemma_filter(text.config_with_defaults({}))
    tokens = ["meetings", "scheduled", "the"] + ["word%dx" % n for n in range(20000)]
    assert bounded(tokens) == unbounded(tokens)
    assert bounded.memo.cache_info().currsize == scoring.LONG_RUNNING_LEMMA_MEMO
