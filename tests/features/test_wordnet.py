import json
import os
import subprocess
import sys

import pytest
from nltk.stem import WordNetLemmatizer
from sklearn.feature_extraction._stop_words import ENGLISH_STOP_WORDS

from jeeves.features.wordnet import (
    CACHE_NAME,
    build_lemmatize,
    english_stop_words,
    load_lemma_tables,
    nltk_wordnet_reader,
    read_cache,
    tables_from_nltk,
    write_cache,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUFFIXES = ("s", "es", "ed", "ing", "ies", "er", "men", "ves")


@pytest.fixture(scope="module")
def reader():
    return nltk_wordnet_reader()


def words_to_check(reader):
    """Every noun and verb lemma form and exception form of WordNet, regular
    inflections of every seventh lemma, and odd strings."""
    words = set()
    for pos in ("n", "v"):
        forms = sorted(form for form, poses in reader._lemma_pos_offset_map.items()
                       if pos in poses)
        words.update(forms)
        words.update(reader._exception_map[pos])
        for form in forms[::7]:
            words.update(form + suffix for suffix in SUFFIXES)
    words.update(["", "Meetings", "us", "2nd", "numbertoken", "naïve", "x" * 300, "ss", "ies"])
    return sorted(words)


def test_lemmatize_equals_nltk_wordnet_lemmatizer(reader):
    ours = build_lemmatize(tables_from_nltk(reader))
    nltk_lemmatize = WordNetLemmatizer().lemmatize
    words = words_to_check(reader)
    assert len(words) > 200000
    for pos in ("n", "v"):
        differing = [word for word in words if ours(word, pos) != nltk_lemmatize(word, pos)]
        assert differing == [], (pos, differing[:20])
    assert ours("meetings", "n") == "meeting"
    assert ours("was", "v") == "be"


def test_cache_round_trip_and_stale_cache(tmp_path, reader):
    tables = tables_from_nltk(reader)
    tables["source"] = {"index.noun": 1}
    assert write_cache(str(tmp_path), tables)
    assert oct(os.stat(tmp_path / CACHE_NAME).st_mode & 0o777) == "0o644"
    assert read_cache(str(tmp_path), {"index.noun": 1}) == json.loads(json.dumps(tables))
    # files of another size: the cache no longer describes them
    assert read_cache(str(tmp_path), {"index.noun": 2}) is None
    assert read_cache(str(tmp_path / "missing"), {"index.noun": 1}) is None


def test_unwritable_directory_is_not_an_error(tmp_path):
    assert write_cache(str(tmp_path / "missing"), {"format": 1}) is False


def test_loaded_tables_come_from_the_cache_of_the_installed_wordnet(reader):
    tables = load_lemma_tables()
    fresh = tables_from_nltk(reader)
    for key in ("lemmas", "exceptions", "substitutions"):
        assert tables[key] == json.loads(json.dumps(fresh[key]))


def test_english_stop_words_are_scikit_learns():
    assert english_stop_words() == frozenset(ENGLISH_STOP_WORDS)


def test_a_task_analyzes_without_importing_nltk_or_scikit_learn():
    load_lemma_tables()  # the cache exists from here on
    code = ("import sys; from jeeves.features.text import Analyzer; "
            "terms = Analyzer({'ngram_max': 2}).load()('The meetings were scheduled'); "
            "print(terms, sorted(m for m in ('nltk', 'sklearn', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True, env=dict(os.environ))
    assert done.stdout.strip() == "['meeting', 'schedule', 'meeting schedule'] []"


def _isolated(monkeypatch, tmp_path):
    """No WordNet anywhere NLTK looks, an empty user cache; the memo cleared."""
    import nltk.data

    from jeeves.features import wordnet

    monkeypatch.delenv("NLTK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nowhere")])
    wordnet.load_lemma_tables.cache_clear()
    return wordnet


def test_without_wordnet_the_error_is_one_line(monkeypatch, tmp_path):
    from jeeves.errors import ResourceUnavailable

    wordnet = _isolated(monkeypatch, tmp_path)
    monkeypatch.setattr(wordnet, "download_wordnet", lambda directory: False)
    try:
        with pytest.raises(ResourceUnavailable) as raised:
            wordnet.load_lemma_tables()
    finally:
        wordnet.load_lemma_tables.cache_clear()
    assert "\n" not in str(raised.value) and "nltk.downloader wordnet" in str(raised.value)


def test_tables_built_once_are_read_from_the_user_cache(monkeypatch, tmp_path):
    from jeeves.features import wordnet

    tables = wordnet.load_lemma_tables()
    wordnet = _isolated(monkeypatch, tmp_path)
    cache = wordnet.user_cache_directory()
    assert cache == str(tmp_path / "cache" / "jeeves")
    os.makedirs(cache)
    assert wordnet.write_cache(cache, tables)
    monkeypatch.setattr(wordnet, "download_wordnet", lambda directory: pytest.fail("download"))
    try:
        assert wordnet.load_lemma_tables() == tables
    finally:
        wordnet.load_lemma_tables.cache_clear()
