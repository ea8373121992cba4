"""Property test: mail whose headers and bodies hold raw 8-bit bytes, invalid
UTF-8, lying charsets (UTF-16, UTF-7, GB2312, unicode-escape labels on other
bytes), astral characters and surrogate escapes goes through the parse job,
then the count, tf-idf and contact jobs (inline, as the driver runs them):
every run completes, every line written is UTF-8 whose JSON strings encode,
and the parse counts reconcile. Record lines carrying surrogate escapes are
fed to the later jobs too, as records read back from disk. Fixed seed and
example budget."""

import base64
import json
import quopri

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jeeves.features.vocabulary import build_vocabulary, merge_totals
from jeeves.jobs.mr_common_contacts import MRCommonContacts
from jeeves.jobs.mr_contact_lists import MRContactLists
from jeeves.jobs.mr_count_ngrams import MRCountNgrams
from jeeves.jobs.mr_tfidf_vectors import MRTfidfVectors
from jeeves.runjob import run_job
from tests.jobs.test_mr_parse_emails import assert_reconciles, run_counted

CHARSETS = ["utf-8", "utf-16", "utf-16-le", "utf-7", "gb2312", "unicode-escape",
            "raw-unicode-escape", "utf-32", "iso-8859-1", "koi8-r", "hex", "x-unknown", ""]
AWKWARD_BYTES = [
    b"\xed\xa0\x80",  # a surrogate encoded in UTF-8 (CESU)
    b"\xff\xfe", b"\xfe\xff", b"\xc3", b"\xe9t\xe9", b"\x80\x81\x82",
    b"\\ud800", b"\\udc80\\ud83d", b"+2D3-", b"+2D3eAA-",  # escapes, UTF-7 surrogates
    "😀 𝄞 𠜎".encode("utf-8"), "Встреча".encode("koi8-r"), "会议".encode("gb2312"),
    b"\x00", b"\x1b$B", b"=?", b"?=",
]

text_pieces = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12).map(
        lambda text: text.encode("ascii")),
    st.sampled_from(AWKWARD_BYTES),
    st.binary(max_size=8),
    st.text(max_size=6).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
raw_text = st.lists(text_pieces, max_size=8).map(b"".join)


@st.composite
def encoded_words(draw):
    """An RFC 2047 word whose charset label may lie about its bytes."""
    charset = draw(st.sampled_from(CHARSETS[:-1]))
    payload = draw(raw_text)
    if draw(st.booleans()):
        return b"=?%s?b?%s?=" % (charset.encode(), base64.b64encode(payload))
    return b"=?%s?q?%s?=" % (charset.encode(), quopri.encodestring(payload, header=True)
                             .replace(b"\n", b""))


header_value = st.lists(st.one_of(raw_text, encoded_words()), min_size=1, max_size=4).map(
    b" ".join).map(lambda value: value.replace(b"\n", b" ").replace(b"\r", b" "))


@st.composite
def messages(draw, number):
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(["8bit", "base64", "quoted-printable", "7bit"]))
    body = draw(raw_text) + b" meeting budget " + draw(raw_text)
    if encoding == "base64":
        body = base64.encodebytes(body)
    elif encoding == "quoted-printable":
        body = quopri.encodestring(body)
    sender = draw(st.sampled_from([b"a@example.com", b"b@example.com", b"c\xe9@example.com"]))
    headers = [
        b"Message-ID: <%d.%s@example.com>" % (number, draw(raw_text).replace(b">", b"")
                                              .replace(b"\n", b"")),
        b"From: " + draw(header_value) + b" <" + sender + b">",
        b"To: b@example.com, " + draw(st.sampled_from(
            [b"d@example.com", b"=?utf-16?b?//4A2A==?= <e@example.com>", b"f\xff@example.com"])),
        b"Subject: " + draw(header_value),
        b"Date: Mon, 14 May 2001 16:39:00 -0700",
        b"Content-Type: text/plain; charset=" + charset.encode(),
        b"Content-Transfer-Encoding: " + encoding.encode(),
    ]
    if draw(st.booleans()):
        headers.append(b"Content-Disposition: inline; filename*=utf-16''%FF%FE%00%D8")
    return b"\n".join(headers) + b"\n\n" + body.replace(b"\r", b"") + b"\n"


# the case, in every corpus: a subject and a Message-ID in a
# mislabelled legacy charset, and a body whose charset makes lone surrogates
MISLABELLED = (b"Message-ID: <legacy-\xb7\xa2@example.com>\nFrom: a@example.com\n"
               b"To: b@example.com\nSubject: =?utf-8?q?=C8=E7=BA=CE?= budget meeting\n"
               b"Content-Type: text/plain; charset=unicode-escape\n\n"
               b"the meeting budget \\ud800 \\udc80 note\n")


def written_lines(directory):
    """Every line the job wrote: it must be UTF-8 whose JSON strings encode."""
    lines = []
    for part in sorted(directory.glob("part-*")):
        for line in part.read_bytes().splitlines():
            text = line.decode("utf-8")  # strict: raises on invalid UTF-8
            for field in text.split("\t"):
                if field[:1] in ('"', "{", "["):
                    value = json.loads(field)
                    json.dumps(value, ensure_ascii=False).encode("utf-8")
            lines.append(text)
    return lines


def vocabulary_from_counts(count_lines, path):
    totals, documents = [], 0
    for line in count_lines:
        key, value = (json.loads(field) for field in line.split("\t", 1))
        if key[0] == "terms":
            totals.append(value)
        elif key[0] == "documents":
            documents += value
    rows = build_vocabulary(merge_totals(totals), documents)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("term\tid\tdf\tidf\n")
        handle.writelines("%s\t%d\t%d\t%r\n" % row for row in rows)
    return len(rows)


@settings(derandomize=True, max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(st.data())
def test_awkward_text_goes_through_every_job(tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("awkward")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    count = data.draw(st.integers(min_value=8, max_value=20))
    for number in range(count):
        (corpus / ("%02d.eml" % number)).write_bytes(data.draw(messages(number)))
    (corpus / "mislabelled.eml").write_bytes(MISLABELLED)
    messages_found, quarantine, counters = run_counted([corpus], tmp_path)
    assert_reconciles(counters, messages_found, quarantine)
    assert counters["warnings"]["surrogates_replaced"] >= 1
    parse_lines = written_lines(tmp_path / "out-inline")
    assert len(parse_lines) == len(messages_found) + len(quarantine)

    # the records as the later jobs read them, plus lines read back from a
    # disk that carry surrogate escapes and invalid UTF-8
    records = tmp_path / "records.jsonl"
    bad = dict(messages_found[0], message_id="bad-\ud800", subject="x \udce9 y",
               **{"from": {"address": "z\ud800@example.com", "name": ""}})
    with open(records, "wb") as handle:
        for line in parse_lines:
            kind, _, value = line.partition("\t")
            if kind == '"message"':
                handle.write(value.encode("utf-8") + b"\n")
        handle.write(json.dumps(bad).encode("ascii") + b"\n")
        handle.write(json.dumps(dict(bad, message_id="raw")).encode("ascii")
                     .replace(b"\\ud800", b"\xed\xa0\x80") + b"\n")

    counted = run_job(MRCountNgrams, [str(records)], str(tmp_path / "counts"))
    count_lines = written_lines(tmp_path / "counts")
    assert counted.counters["count_ngrams"]["surrogates_replaced"] == 2
    vocabulary = tmp_path / "vocabulary.tsv"
    if vocabulary_from_counts(count_lines, vocabulary):
        run_job(MRTfidfVectors, [str(records)], str(tmp_path / "tfidf"),
                args=["--vocabulary", str(vocabulary)])
        vectors = written_lines(tmp_path / "tfidf")
        assert len(vectors) == len(messages_found) + 2
    for job, name in ((MRContactLists, "contacts"), (MRCommonContacts, "common")):
        result = run_job(job, [str(records)], str(tmp_path / name))
        written_lines(tmp_path / name)
        group = "contact_lists" if name == "contacts" else "common_contacts"
        assert result.counters[group]["surrogates_replaced"] == 2
