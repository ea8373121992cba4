import math
import zlib

import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from jeeves.features.vocabulary import (
    build_hashed_table,
    build_vocabulary,
    idf,
    merge_totals,
    parse_df_bound,
    partition_of,
    partition_totals,
    read_vocabulary_by_id,
    read_vocabulary_rows,
    read_vocabulary_table,
    select_terms,
    write_vocabulary,
)

DOCS = ["gas price gas", "gas deal", "price deal meet", "meet meet lunch", "budget"]


def term_stats(docs=DOCS):
    """{term: (count, df)} computed by scikit-learn, as the counting pass yields it."""
    vectorizer = CountVectorizer(token_pattern=r"\S+")
    matrix = vectorizer.fit_transform(docs)
    counts = matrix.sum(axis=0).A1
    dfs = (matrix > 0).sum(axis=0).A1
    return {term: (int(counts[i]), int(dfs[i]))
            for term, i in vectorizer.vocabulary_.items()}


@pytest.mark.parametrize("min_df, max_df, max_features", [
    (1, 1.0, None), (2, 1.0, None), (1, 2, None), (0.3, 0.5, None), (1, 1.0, 2)])
def test_selection_equals_count_vectorizer(min_df, max_df, max_features):
    vectorizer = CountVectorizer(token_pattern=r"\S+", min_df=min_df, max_df=max_df,
                                 max_features=max_features).fit(DOCS)
    rows = build_vocabulary(term_stats(), len(DOCS), min_df, max_df, max_features)
    assert {term: term_id for term, term_id, _, _ in rows} == vectorizer.vocabulary_


def test_max_features_ties_broken_by_term():
    stats = {"b": (2, 1), "a": (2, 1), "c": (2, 1), "d": (5, 1)}
    assert select_terms(stats, 3, max_features=2) == ["a", "d"]


def test_bad_df_bounds():
    with pytest.raises(ValueError, match="max_df"):
        select_terms({"a": (1, 1)}, 10, min_df=5, max_df=2)
    with pytest.raises(ValueError, match="1.5"):
        parse_df_bound("1.5")
    with pytest.raises(ValueError, match="many"):
        parse_df_bound("many")
    assert parse_df_bound("2") == 2 and isinstance(parse_df_bound("1.0"), float)


@pytest.mark.parametrize("smooth_idf", [True, False])
def test_idf_equals_tfidf_transformer(smooth_idf):
    vectorizer = CountVectorizer(token_pattern=r"\S+")
    transformer = TfidfTransformer(smooth_idf=smooth_idf).fit(vectorizer.fit_transform(DOCS))
    stats = term_stats()
    for term, term_id in vectorizer.vocabulary_.items():
        assert idf(stats[term][1], len(DOCS), smooth_idf) == pytest.approx(
            transformer.idf_[term_id], abs=1e-12)


def test_vocabulary_tsv_round_trip(tmp_path):
    rows = build_vocabulary(term_stats(), len(DOCS))
    path = tmp_path / "vocabulary.tsv"
    write_vocabulary(path, rows)
    assert path.read_text().splitlines()[0] == "term\tid\tdf\tidf"
    assert read_vocabulary_rows(path) == rows
    table = read_vocabulary_table(path)
    row = table.rows_of(["gas"])[0]
    assert (table.ids[row], table.idf[row]) == (rows[[r[0] for r in rows].index("gas")][1],
                                                1.0 + math.log(6 / 3))
    terms, by_id = read_vocabulary_by_id(path)
    assert [terms[term_id] for _, term_id, _, _ in rows] == [term for term, _, _, _ in rows]
    assert by_id.tolist() == [idf for _, _, _, idf in sorted(rows, key=lambda row: row[1])]


def test_hashed_table_keeps_every_bucket_with_its_id():
    rows = build_hashed_table({"7": (3, 2), "1": (1, 1)}, 4, smooth_idf=False)
    assert rows == [("1", 1, 1, math.log(4) + 1), ("7", 7, 2, math.log(2) + 1)]


def test_keep_predicate_filters_before_max_features():
    rows = build_vocabulary(term_stats(), len(DOCS), max_features=2,
                            keep=lambda term: term != "gas")
    # meet (3) first, then deal and price tie at 2: deal by term order
    assert [row[0] for row in rows] == ["deal", "meet"]


def test_partition_of_is_stable_and_in_range():
    # CRC-32 of the UTF-8 bytes: the same in every process, unlike hash()
    assert partition_of("meet", 64) == zlib.crc32(b"meet") % 64
    assert {partition_of("term%d" % number, 8) for number in range(200)} == set(range(8))


def test_merge_totals_adds_counts_and_dfs():
    partials = [{"meet": [3, 2], "gas": [1, 1]}, {"meet": [1, 1]}, {"budget": [2, 1]}]
    merged = merge_totals(iter(partials))
    assert {term: list(stats) for term, stats in merged.items()} == {
        "meet": [4, 3], "gas": [1, 1], "budget": [2, 1]}
    assert merge_totals(iter([])) == {}
    # partials straight from partition_totals hold tuples
    merged = merge_totals(iter([{"meet": (3, 2)}, {"meet": (1, 1)}]))
    assert list(merged["meet"]) == [4, 3]


def test_partition_totals_groups_terms_as_partition_of():
    terms = ["term%d" % number for number in range(500)] + ["réunion", "gas price", "a"]
    term_counts = {term: 2 * index + 1 for index, term in enumerate(terms)}
    document_frequencies = {term: index + 1 for index, term in enumerate(terms)}
    rows = partition_totals(term_counts, document_frequencies, 16)
    assert [partition for partition, _ in rows] == sorted({partition_of(t, 16) for t in terms})
    seen = {}
    for partition, totals in rows:
        for term, (count, df) in totals.items():
            assert partition_of(term, 16) == partition
            seen[term] = (count, df)
    assert seen == {term: (term_counts[term], document_frequencies[term]) for term in terms}
    # the counts in another order than the dfs: looked up, same rows
    reordered = dict(reversed(list(term_counts.items())))
    assert partition_totals(reordered, document_frequencies, 16) == rows
    assert partition_totals({}, {}, 16) == []
