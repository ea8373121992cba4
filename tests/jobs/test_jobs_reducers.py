"""Every job with a reduce step gives its inline output when each step has several reducers.

mrjob's local runner takes its number of reduce tasks from ``--num-cores``,
not from ``mapreduce.job.reduces`` (``mrjob/sim.py``, ``_num_reducers``): it
cuts each step's sorted reducer input into about twice that many ranges,
never splitting a key. With ``--num-cores 2`` every step of these small
inputs runs in several reduce tasks, so a job whose output depended on one
reducer seeing every key (a global order, a global top-k, one summary row
per task) would differ from inline here. The jobconf is passed as well, as
on Hadoop, where it is what counts (tests/engines/). The tf-idf job is
map-only and the cross-validation job's steps are keyed by fold and
candidate: neither is here.
"""

import json
import pathlib
import random
import shutil

import pytest

from jeeves.jobs.mr_common_contacts import MRCommonContacts
from jeeves.jobs.mr_contact_lists import MRContactLists
from jeeves.jobs.mr_count_ngrams import MRCountNgrams
from jeeves.jobs.mr_parse_emails import MRParseEmails
from jeeves.jobs.mr_score_collocations import MRScoreCollocations
from jeeves.pipeline.parse_inputs import plan_inputs
from tests.helpers import canonical, run_job
from tests.jobs.text_fixtures import RECORDS, record_lines

REDUCERS = 2
SEVERAL_REDUCERS = ["--num-cores", str(REDUCERS),
                    "--jobconf", "mapreduce.job.reduces=%d" % REDUCERS]
MAIL = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def assert_local_with_reducers_equals_inline(job_class, inputs, args, tmp_path):
    """Run inline and on the local runner with several reducers; compare; return inline's."""
    inline = run_job(job_class, inputs, args)
    assert inline, "the job produced nothing inline"
    output = tmp_path / "local-output"
    local = run_job(job_class, inputs, list(args) + SEVERAL_REDUCERS, runner="local",
                    output_dir=output)
    # one part file per reduce task of the last step
    parts = [path for path in output.glob("part-*") if path.stat().st_size]
    assert len(parts) >= 2, "expected several reduce tasks, got %d part files" % len(parts)
    assert canonical(local) == canonical(inline)
    return inline


def contact_records(seed=15, n_addresses=40, n_messages=120):
    """Random messages among a few addresses, half of them answered, dated in
    order, plus one broadcast sender: every kind of contact-list row."""
    rng = random.Random(seed)
    addresses = ["a%02d@x" % n for n in range(n_addresses)]
    lines = []
    for number in range(n_messages):
        sender = rng.choice(addresses)
        recipients = rng.sample(addresses, rng.randint(0, 4))
        fields = {"to": [], "cc": [], "bcc": []}
        for recipient in recipients:
            fields[rng.choice(sorted(fields))].append(recipient)
        lines.append(json.dumps({
            "schema_version": 1, "message_id": "m%03d@x" % number,
            "date": "2001-05-%02dT%02d:00:00+00:00" % (1 + number // 24, number % 24),
            "from": {"address": sender, "name": ""}, **fields}))
    lines.append(json.dumps({
        "schema_version": 1, "message_id": "broadcast@x", "date": None,
        "from": {"address": "hub@x", "name": ""}, "to": addresses}))
    return [lines[::2], lines[1::2]]


def test_contact_lists_with_several_reducers(tmp_path):
    # the secondary sort (SORT_VALUES) must keep a key's values together and ordered
    output = assert_local_with_reducers_equals_inline(
        MRContactLists, contact_records(), ["--max-list", "5"], tmp_path)
    kinds = {key[0] for key, _ in output}
    assert kinds == {"contacts", "followers", "totals", "message"}


def test_common_contacts_with_several_reducers(tmp_path):
    output = assert_local_with_reducers_equals_inline(
        MRCommonContacts, contact_records(), ["--top-k", "3", "--max-degree", "20"], tmp_path)
    assert {key[0] for key, _ in output} == {"suggestions", "hub"}


@pytest.fixture
def message_lines():
    """The text fixtures in two files, one message id twice (the reducer orders duplicates)."""
    lines = record_lines()
    duplicate = dict(RECORDS[0], body="Another body under the same id.")
    return [lines[:5], lines[5:] + [json.dumps(duplicate)]]


def test_count_ngrams_with_several_reducers(tmp_path, message_lines):
    output = assert_local_with_reducers_equals_inline(
        MRCountNgrams, message_lines, ["--ngram-max", "2", "--term-partitions", "8"], tmp_path)
    kinds = [key[0] for key, _ in output]
    assert kinds.count("documents") == 1 and kinds.count("terms") > 1


def test_score_collocations_with_several_reducers(tmp_path, message_lines):
    counts = tmp_path / "counts"
    run_job(MRCountNgrams, message_lines, ["--ngram-max", "2"], output_dir=counts)
    total_tokens = sum(
        stats[0]
        for path in counts.glob("part-*")
        for key, value in (line.split("\t", 1) for line in path.read_text().splitlines())
        if json.loads(key)[0] == "terms"
        for term, stats in json.loads(value).items() if " " not in term)
    inputs = sorted(counts.glob("part-*"))
    output = assert_local_with_reducers_equals_inline(
        MRScoreCollocations, inputs, ["--total-tokens", str(total_tokens)], tmp_path)
    assert len(output) > 10



def test_parse_emails_with_several_reducers(tmp_path):
    # a second copy of the mbox: its messages are duplicates, dropped by the reducers
    mail = tmp_path / "mail"
    shutil.copytree(MAIL, mail)
    shutil.copyfile(MAIL / "sample.mbox", mail / "copy.mbox")
    outputs = {}
    for runner, args in (("inline", []), ("local", SEVERAL_REDUCERS)):
        # the driver's input plan (work lists), as jeeves parse makes it
        scratch = tmp_path / ("plan-" + runner)
        scratch.mkdir()
        plan = plan_inputs([str(mail)], str(scratch), runner)
        output = tmp_path / ("output-" + runner)
        outputs[runner] = run_job(
            MRParseEmails, [pathlib.Path(path) for path in plan.work_list_paths],
            plan.job_args + args, runner=runner, output_dir=output)
    parts = [path for path in output.glob("part-*") if path.stat().st_size]
    assert len(parts) >= 2, "expected several reduce tasks, got %d part files" % len(parts)
    assert canonical(outputs["local"]) == canonical(outputs["inline"])
    assert [key for key, _ in outputs["inline"]].count("message") > 5
