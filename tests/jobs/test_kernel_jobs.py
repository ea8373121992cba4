"""The jobs that count terms give the same output with and without the native
kernel (jeeves.features.kernel), and on 1, 2 and 4 tasks.

Without it: the tasks of the local runner are processes of their own, so a
module named ``jeeves_kernel`` that fails to import is put first on their
PYTHONPATH (the way a node without the built module behaves); the inline
runner's task is this process, whose loader is told the same. Each task
then counts in Python and says so in the ``kernel_unavailable`` counter.
"""

import json
import os

import pytest

from jeeves.features import kernel
from jeeves.features.parts import part_files
from jeeves.pipeline.engine import Engine
from jeeves.pipeline.features import VectorizerConfig, features_stage
from tests.jobs.text_fixtures import RECORDS
from tests.scripts.run_outputs import task_conf

pytestmark = pytest.mark.skipif(not kernel.native_available(),
                                reason="the native kernel is not built (make setup builds it)")

# ASCII records (the native path) and others (the Python one, counted)
MIXED = RECORDS + [
    {"message_id": "u1@x", "subject": "Réunion café", "body": "Meetings at the café, 10am"},
    {"message_id": "u2@x", "subject": "Ünïcode", "body": "naïve résumé scheduled meetings"},
]
ASCII = sum(1 for record in MIXED
            if "\n".join([record.get("subject") or "", record.get("body") or ""]).isascii())


@pytest.fixture
def no_native(tmp_path, monkeypatch):
    """Hide the native module from this process and from the tasks."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "jeeves_kernel.py").write_text('raise ImportError("hidden by the test")\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(stub)] + [path for path in [os.environ.get("PYTHONPATH")] if path]))
    monkeypatch.setattr(kernel, "_native_module", [None])


def run_features(tmp_path, name, runner, tasks=None, hash_features=0):
    """features_stage on MIXED -> (vocabulary bytes, tf-idf lines in file order, counters)."""
    root = tmp_path / name
    root.mkdir()
    source = root / "messages.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in MIXED), encoding="utf-8")
    conf = task_conf(str(root / "mrjob.conf"), tasks) if tasks else None
    engine = Engine(runner, conf=conf) if conf else Engine(runner)
    summary = features_stage(engine, [str(source)], str(root), {"ngram_max": 2},
                             VectorizerConfig(min_df=2, hash_features=hash_features))
    features = root / "features"
    lines = [line for path in part_files(str(features / "tfidf"))
             for line in open(path, encoding="utf-8")]
    return (features / "vocabulary.tsv").read_bytes(), lines, summary["counters"]


def kernel_counts(counters):
    """{job: {kernel counter: total}} of a features summary's counters."""
    found = {}
    for job, groups in counters.items():
        for names in groups.values():
            for name, value in names.items():
                if name.startswith("kernel_"):
                    found.setdefault(job, {})[name] = value
    return found


def test_native_and_python_kernels_give_the_same_features(tmp_path, monkeypatch):
    native = run_features(tmp_path, "native", "inline")
    counts = kernel_counts(native[2])
    for job in ("count_ngrams", "tfidf_vectors"):
        assert counts[job] == {"kernel_native_texts": ASCII,
                               "kernel_python_texts": len(MIXED) - ASCII}
    monkeypatch.setattr(kernel, "_native_module", [None])
    python = run_features(tmp_path, "python", "inline")
    assert python[:2] == native[:2]
    for job in ("count_ngrams", "tfidf_vectors"):
        # each map task could not load the module and said so
        assert kernel_counts(python[2])[job] == {
            "kernel_python_texts": len(MIXED),
            "kernel_unavailable": python[2][job]["tasks"]["map"]}


@pytest.mark.parametrize("tasks", [1, 2, 4])
def test_local_tasks_with_and_without_the_kernel_equal_inline(tmp_path, tasks, request):
    """Vocabulary byte for byte; vectors line for line in order (the records'
    order: map-only over the input), whatever the tasks and the kernel."""
    inline = run_features(tmp_path, "inline", "inline")
    local = run_features(tmp_path, "local", "local", tasks)
    assert local[:2] == inline[:2]
    assert kernel_counts(local[2])["count_ngrams"]["kernel_native_texts"] == ASCII
    request.getfixturevalue("no_native")
    hidden = run_features(tmp_path, "hidden", "local", tasks)
    assert hidden[:2] == inline[:2]
    counts = kernel_counts(hidden[2])
    for job in ("count_ngrams", "tfidf_vectors"):
        # every map task fell back, and said so
        assert counts[job]["kernel_unavailable"] == hidden[2][job]["tasks"]["map"]
        assert counts[job]["kernel_python_texts"] == len(MIXED)


def test_hashing_mode_with_and_without_the_kernel(tmp_path, monkeypatch):
    native = run_features(tmp_path, "native", "inline", hash_features=1024)
    monkeypatch.setattr(kernel, "_native_module", [None])
    assert run_features(tmp_path, "python", "inline", hash_features=1024)[:2] == native[:2]
