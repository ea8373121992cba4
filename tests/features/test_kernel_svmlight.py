"""The native svmlight formatting (jeeves_kernel.format_svmlight, through
jeeves.features.kernel.format_svmlight) writes features/tfidf.py's lines byte
for byte: values as ``repr(float)``, comments as ``json.dumps(message_id,
ensure_ascii=False)``."""

import functools
import json
import math
import struct
from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jeeves.features import kernel
from jeeves.features.kernel import format_svmlight, native_available
from jeeves.features.tfidf import PAIR_FORMAT, svmlight_line, tfidf_lines
from jeeves.features.vocabulary import build_vocabulary, table_of_mapping
from tests.features.test_kernel import DATA, enron_records

needs_native = pytest.mark.skipif(
    not native_available(),
    reason="the native kernel (features/native) is not built: `make setup` builds it with cargo")


def python_lines(label, ids, values, lengths, message_ids):
    """features/tfidf.py's Python formatting of the same entries."""
    pairs = list(map(PAIR_FORMAT.__mod__, zip(np.asarray(ids).tolist(),
                                              np.asarray(values).tolist())))
    lines, start = [], 0
    for message_id, length in zip(message_ids, lengths):
        lines.append(svmlight_line([], message_id, label) if not length else
                     "%s %s # %s" % (label, " ".join(pairs[start:start + length]),
                                     json.dumps(message_id, ensure_ascii=False)))
        start += length
    return lines


def assert_native_equals_python(label, ids, values, lengths, message_ids):
    native = format_svmlight(label, np.asarray(ids, dtype=np.int64),
                             np.asarray(values, dtype=np.float64),
                             np.asarray(lengths, dtype=np.int64), message_ids)
    assert native == python_lines(label, ids, values, lengths, message_ids)


def float_of_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


# where repr changes layout (1e-05 / 0.0001, 1e+16 / 1000000000000000.0),
# the subnormals and the ends of the range
BOUNDARIES = [0.0, -0.0, 1e-5, 1e-4, 9.999999999999999e-05, 1.0000000000000001e-05,
              9.99999999999999e-06, 5.5e-05, 1e15, 1e16, 9999999999999998.0, 1.0000000000000002e16,
              123.0, 0.1, 1 / 3, 2 / 3, 0.1 + 0.2, 5e-324, 2.2250738585072014e-308,
              2.225073858507201e-308, 1.7976931348623157e308, 9007199254740993.0, 1e22, 1e23,
              math.pi, float("inf"), float("-inf"), float("nan")]
BOUNDARIES += [-value for value in BOUNDARIES]
BOUNDARIES += [math.nextafter(value, direction) for value in BOUNDARIES[:25]
               for direction in (0.0, math.inf)] if hasattr(math, "nextafter") else []

any_float = (st.floats() | st.sampled_from(BOUNDARIES)
             | st.integers(0, 2 ** 64 - 1).map(float_of_bits)
             # subnormals, and the exponents where the layout changes
             | st.floats(min_value=-2.3e-308, max_value=2.3e-308)
             | st.floats(min_value=9e-6, max_value=1.1e-4)
             | st.floats(min_value=9e14, max_value=1.1e16)
             | st.builds(lambda digits, exponent: float("%se%d" % (digits, exponent)),
                         st.integers(1, 10 ** 17).map(str), st.integers(-330, 310)))
message_ids = (st.text() | st.sampled_from(["<a@b>", "x\ny\r\t\"\\/\x00\x1f\x7f é 😀 \u2028",
                                            "\udc80 lone", "# ", ""])
               | st.integers() | st.none() | st.floats(allow_nan=False))


@needs_native
@settings(max_examples=400, deadline=None)
@given(values=st.lists(any_float, max_size=30), data=st.data())
@example(values=BOUNDARIES, data=None)
def test_native_equals_python_on_any_float(values, data):
    ids = list(range(len(values)))
    if data is None:
        lengths, ids_ = [len(values)], ["<m@x>"]
    else:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), max_size=4)))
        bounds = [0] + cuts + [len(values)]
        lengths = [end - start for start, end in zip(bounds, bounds[1:])]
        ids_ = data.draw(st.lists(message_ids, min_size=len(lengths), max_size=len(lengths)))
        ids = data.draw(st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), min_size=len(values),
                                 max_size=len(values)))
    assert_native_equals_python("0", ids, values, lengths, ids_)


@needs_native
def test_native_equals_python_on_a_million_random_doubles():
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2 ** 64, size=1_000_000, dtype=np.uint64).view(np.float64)
    values = np.concatenate([values, rng.random(200_000), rng.random(100_000) * 1e-4,
                             rng.integers(0, 2 ** 52, size=100_000, dtype=np.uint64)
                             .view(np.float64)])
    lengths = [len(values) // 2, len(values) - len(values) // 2]
    assert_native_equals_python("1", np.arange(len(values)), values, lengths, ["a", "b"])


@needs_native
@settings(max_examples=300, deadline=None)
@given(message_id=message_ids, label=st.sampled_from(["0", "-1", "+1", "spam", "é"]))
def test_native_comments_and_labels_equal_python(message_id, label):
    assert_native_equals_python(label, [3, 5], [0.5, 1e-5], [0, 2, 0],
                                [message_id, message_id, "x"])


@needs_native
def test_wrong_shapes_raise():
    import jeeves_kernel

    eight = np.zeros(1).tobytes()
    with pytest.raises(ValueError):
        jeeves_kernel.format_svmlight("0", eight, eight, np.array([2]).tobytes(), ["a"], json.dumps)
    with pytest.raises(ValueError):
        jeeves_kernel.format_svmlight("0", eight, eight, np.array([0]).tobytes(), ["a"], json.dumps)
    with pytest.raises(ValueError):
        jeeves_kernel.format_svmlight("0", eight, b"", np.array([1]).tobytes(), ["a"], json.dumps)
    with pytest.raises(ValueError):
        jeeves_kernel.format_svmlight("0", eight, eight, np.array([1]).tobytes(), [], json.dumps)
    # a label that is not a str: the caller formats in Python
    assert jeeves_kernel.format_svmlight(0, eight, eight, np.array([1]).tobytes(), ["a"],
                                         json.dumps) is None


def test_without_the_native_module_there_is_no_native_formatting(monkeypatch):
    monkeypatch.setattr(kernel, "_load_native", lambda: None)
    assert format_svmlight("0", np.zeros(1, dtype=np.int64), np.zeros(1), [1], ["a"]) is None


@functools.lru_cache(maxsize=None)
def enron_batch(limit):
    """(message_id, {term: count}) of Enron messages and a vocabulary of them."""
    from jeeves.features.tfidf import build_term_counter

    count_terms = build_term_counter({"ngram_max": 2})
    batch = [(record["message_id"], count_terms(record)) for record in enron_records(limit)]
    term_counts, dfs = Counter(), Counter()
    for _, counts in batch:
        term_counts.update(counts)
        dfs.update(counts.keys())
    rows = build_vocabulary({term: (term_counts[term], dfs[term]) for term in term_counts},
                            len(batch), min_df=2)
    table = table_of_mapping({term: (term_id, idf) for term, term_id, _, idf in rows})
    # odd message ids and a message without vocabulary terms
    batch += [("é \"quoted\"\n\udc80", {"deal": 2, "zzzz-not-a-term": 1}), (17, {}),
              (None, {"zzzz-not-a-term": 3})]
    return batch, table


@needs_native
@pytest.mark.skipif(not (DATA / "enron-mbox").is_dir(),
                    reason="../shared/data/enron-mbox (the Enron corpus) is absent")
@pytest.mark.parametrize("sublinear_tf,norm,label", [
    (False, "l2", "0"), (True, "l1", "1"), (False, "none", "-1"), (False, "l2", 1)])
def test_tfidf_lines_are_the_same_with_and_without_native(monkeypatch, sublinear_tf, norm,
                                                          label):
    batch, table = enron_batch(1000)
    native = tfidf_lines(batch, table, sublinear_tf, norm, label)
    with monkeypatch.context() as patch:
        patch.setattr(kernel, "_load_native", lambda: None)
        python = tfidf_lines(batch, table, sublinear_tf, norm, label)
    assert native == python
    assert len(native) == len(batch)
    assert sum(line.count(":") for line in native) > 20000
    assert native[-1] == "%s # null" % label and native[-2] == "%s # 17" % label
