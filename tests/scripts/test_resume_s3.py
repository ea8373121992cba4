"""Stage-level resume with OUT on S3 (moto, in this process; no AWS).

`jeeves run --runner inline --output s3://BUCKET/out` on the hand-written
corpus (parse and features), then again with another ``--min-df``: parse is kept (its markers'
records read from S3, its outputs listed there with their sizes), the rest
is recomputed; a third run keeps both. `hdfs://` OUT goes through the same Storage calls
(``exists``, ``read_bytes``, ``write_bytes``, ``list_status``), over
WebHDFS or ``hadoop fs``.
"""

import contextlib
import io
import json

import pytest

from jeeves import cli
from jeeves.storage import Storage
from tests.helpers import s3_in_moto
from tests.scripts.run_outputs import write_inputs

moto = pytest.importorskip("moto")
# parse and features only: the two stages show what is kept and what is not
RUN = ["--no-graph"]


@pytest.fixture
def s3(monkeypatch):
    yield from s3_in_moto(monkeypatch, "jeeves-resume")


def jeeves_run(corpus, options):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli.main(["run", "--input", corpus, "--output", "s3://jeeves-resume/out"]
                          + RUN + options)
    assert status == 0, printed.getvalue()
    return printed.getvalue()


def test_a_run_into_s3_keeps_the_stages_its_options_leave_unchanged(s3, tmp_path):
    corpus = str(tmp_path / "corpus")
    write_inputs(corpus)
    jeeves_run(corpus, [])
    record = json.loads(s3.get_object(Bucket="jeeves-resume",
                                      Key="out/messages/_SUCCESS")["Body"].read())
    listed = Storage().list_status("s3://jeeves-resume/out/messages")
    assert record["outputs"] == {
        location.rsplit("/", 1)[1]: size for location, size, _ in listed
        if not location.endswith("/_SUCCESS")}
    assert all(version.startswith('"') for _, _, version in listed)  # ETags

    printed = jeeves_run(corpus, ["--min-df", "3"])
    summary = json.loads(s3.get_object(Bucket="jeeves-resume", Key="out/summary.json")["Body"]
                         .read())
    assert summary["resumed"] == {"kept": ["parse"], "recomputed": ["features"]}
    assert "resumed: kept parse; recomputed features" in printed
    assert summary["stages"]["parse"]["parsed"] == 16
    vocabulary = s3.get_object(Bucket="jeeves-resume", Key="out/features/vocabulary.tsv")
    assert "resumed: kept parse, features; recomputed none" in jeeves_run(corpus, ["--min-df", "3"])
    assert s3.get_object(Bucket="jeeves-resume", Key="out/features/vocabulary.tsv")["ETag"] == \
        vocabulary["ETag"]
