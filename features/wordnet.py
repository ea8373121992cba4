"""NLTK's WordNet lemmatizer, loaded in a fraction of a second per process.

The analyzer lemmatizes as NLTK's ``WordNetLemmatizer().lemmatize(word, pos)``
does: the shortest of the lemmas WordNet's morphy finds, or the word itself.
Loading it the usual way costs seconds in every process (importing nltk,
which imports scipy, then parsing all four WordNet index files), and every
map task is such a process. Morphy needs little for the two parts of speech
the analyzer asks for (noun and verb): the lemma forms of each POS, its
exception list (``noun.exc``, ``verb.exc``) and NLTK's detachment rules.

``load_lemma_tables()`` reads those with NLTK's own WordNet reader once and
caches them as JSON (``jeeves-lemma-tables.json``) in the WordNet directory,
keyed by the sizes of the four files they come from, and in the user's cache
directory (``~/.cache/jeeves``); later processes read the cache without
importing nltk. Without WordNet anywhere it is downloaded on first use with
``nltk.download`` into that cache directory, and where that is impossible
the error is one line. Tasks need none of this: the driver ships the tables
inside the code zip it gives every job (jeeves.taskcode), read here by
``packaged_tables()``. ``make setup`` provisions WordNet for the checkout
(tools/provision_wordnet.py).

``build_lemmatize(tables)`` runs the steps of NLTK's
``WordNetCorpusReader._morphy`` on the tables: the exception list's forms
if the word is in it, else the detachment rules applied once; then the
word and those forms that are lemmas of the POS, in that order, without
repeats; ``lemmatize`` takes the shortest (the first of equal length).
tests/features/test_wordnet.py checks equality with WordNetLemmatizer on
every lemma and exception form of WordNet and their regular inflections.
"""

import functools
import importlib.util
import json
import os
import warnings

POSES = ("n", "v")
SOURCE_FILES = ("index.noun", "index.verb", "noun.exc", "verb.exc")
CACHE_NAME = "jeeves-lemma-tables.json"
CACHE_FORMAT = 1


def wordnet_directory():
    """The directory holding WordNet's files, or None when NLTK finds it
    zipped or not at all.

    The ``NLTK_DATA`` directories are searched first, without importing nltk;
    then NLTK's own search path (which imports it).
    """
    found = _nltk_data_wordnet()
    if found:
        return found
    import nltk.data

    try:
        found = nltk.data.find("corpora/wordnet")
    except LookupError:
        return None
    path = getattr(found, "path", None)
    return path if path and os.path.isdir(path) else None


def source_signature(directory):
    """{file name: size} of the WordNet files the tables come from."""
    return {name: os.path.getsize(os.path.join(directory, name)) for name in SOURCE_FILES}


def nltk_wordnet_reader():
    """NLTK's WordNetCorpusReader over the installed WordNet, without its OMW map.

    On load the reader also builds a WordNet-version map for the Open
    Multilingual WordNet (``map_wn``), most of its load time and unused by
    lemmatization; this reader skips it. Raises LookupError without WordNet.
    """
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class LemmaWordNetReader(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None

    try:
        root = nltk.data.find("corpora/wordnet.zip/wordnet/")
    except LookupError:
        root = nltk.data.find("corpora/wordnet")
    with warnings.catch_warnings():
        # "multilingual functions are not available": not used here
        warnings.simplefilter("ignore", UserWarning)
        return LemmaWordNetReader(root, None)


def tables_from_nltk(reader=None):
    """The lemma tables, read from NLTK's WordNet reader."""
    reader = reader or nltk_wordnet_reader()
    by_form = reader._lemma_pos_offset_map
    return {
        "format": CACHE_FORMAT,
        "lemmas": {pos: sorted(form for form, poses in by_form.items() if pos in poses)
                   for pos in POSES},
        "exceptions": {pos: reader._exception_map[pos] for pos in POSES},
        "substitutions": {pos: [list(rule) for rule in reader.MORPHOLOGICAL_SUBSTITUTIONS[pos]]
                          for pos in POSES},
    }


def write_cache(directory, tables):
    """Write the tables to the directory's cache file atomically; False if read-only."""
    from jeeves.files import write_atomically

    if not os.path.isdir(directory):
        return False
    try:
        write_atomically(os.path.join(directory, CACHE_NAME),
                         json.dumps(tables, sort_keys=True).encode("utf-8"))
    except OSError:
        return False
    return True


def read_cache(directory, signature, any_source=False):
    """The cached tables when they match ``signature`` (or, with
    ``any_source``, whatever WordNet files they came from), else None."""
    try:
        with open(os.path.join(directory, CACHE_NAME), encoding="utf-8") as handle:
            tables = json.load(handle)
    except (OSError, ValueError):
        return None
    if tables.get("format") != CACHE_FORMAT:
        return None
    if not any_source and tables.get("source") != signature:
        return None
    return tables


PACKAGED_TABLES = "lemma-tables.json"


def user_cache_directory(environ=None):
    """Where a user's Jeeves keeps what it provisions: $XDG_CACHE_HOME/jeeves,
    else ~/.cache/jeeves."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jeeves")


def packaged_tables():
    """The tables shipped beside this module (in the zip the driver gives its
    tasks: jeeves.taskcode), or None."""
    import pkgutil

    try:
        data = pkgutil.get_data(__name__.rpartition(".")[0] or "features", PACKAGED_TABLES)
    except (OSError, ImportError):
        return None
    if data is None:
        return None
    tables = json.loads(data.decode("utf-8"))
    return tables if tables.get("format") == CACHE_FORMAT else None


def download_wordnet(directory):
    """``nltk.download('wordnet')`` into ``directory``/nltk_data; True when it worked."""
    try:
        import nltk
    except ImportError:
        return False
    import contextlib
    import io

    target = os.path.join(directory, "nltk_data")
    # NLTK prints its progress and errors, and warns: the caller says it in one line
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            os.makedirs(target, mode=0o700, exist_ok=True)
            return bool(nltk.download("wordnet", download_dir=target, quiet=True,
                                      raise_on_error=True, print_error_to=io.StringIO())
                        ) and _found_under(target)
        except Exception:  # no network, a proxy, a server error: all mean "not this way"
            return False


def _found_under(nltk_data):
    return (os.path.isfile(os.path.join(nltk_data, "corpora", "wordnet", "index.noun"))
            or os.path.isfile(os.path.join(nltk_data, "corpora", "wordnet.zip")))


def wordnet_missing_message():
    return ("WordNet is not installed and could not be downloaded: run "
            "'python -m nltk.downloader wordnet' where the network reaches NLTK's "
            "server, or set NLTK_DATA to a directory holding corpora/wordnet")


# Memoized: the inline runner runs every task in one process.
@functools.lru_cache(maxsize=None)
def load_lemma_tables():
    """The lemma tables, from the first of:

    1. the tables shipped with the code (a task's zip, jeeves.taskcode);
    2. WordNet in an ``NLTK_DATA`` directory: the cache beside it, or NLTK's
       reader (then cached there if writable);
    3. the user's cache (``user_cache_directory()/lemma-tables.json``);
    4. WordNet where NLTK finds it by default (``~/nltk_data``, ...);
    5. ``nltk.download('wordnet')`` into the user's cache directory.

    What 2, 4 and 5 build is written to the user's cache, so later runs read
    one file. Raises jeeves.errors.ResourceUnavailable (one line) when no
    route works.
    """
    tables = packaged_tables()
    if tables is not None:
        return tables
    cache = user_cache_directory()
    directory = _nltk_data_wordnet()
    if directory is None:
        tables = read_cache(cache, None, any_source=True)
        if tables is not None:
            return tables
        directory = wordnet_directory()
        if directory is None and not _nltk_finds_wordnet():
            if not download_wordnet(cache):
                from jeeves.errors import ResourceUnavailable

                raise ResourceUnavailable(wordnet_missing_message())
            os.environ["NLTK_DATA"] = os.pathsep.join(
                filter(None, [os.path.join(cache, "nltk_data"), os.environ.get("NLTK_DATA")]))
            import nltk.data

            nltk.data.path.insert(0, os.path.join(cache, "nltk_data"))
            directory = wordnet_directory()
    signature = source_signature(directory) if directory else None
    if directory:
        tables = read_cache(directory, signature)
        if tables is not None:
            return tables
    tables = tables_from_nltk()
    tables["source"] = signature
    if not (directory and write_cache(directory, tables)):
        os.makedirs(cache, exist_ok=True)
        write_cache(cache, tables)
    return tables


def _nltk_data_wordnet():
    """WordNet's directory in one of the NLTK_DATA directories (no nltk import), or None."""
    for root in os.environ.get("NLTK_DATA", "").split(os.pathsep):
        candidate = os.path.join(root, "corpora", "wordnet")
        if root and os.path.isfile(os.path.join(candidate, "index.noun")):
            return candidate
    return None


def _nltk_finds_wordnet():
    import nltk.data

    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip/wordnet/")
        except LookupError:
            return False
    return True


def build_lemmatize(tables):
    """Return ``lemmatize(word, pos)`` for pos "n" or "v", equal to WordNetLemmatizer's."""
    # made on the first call: a task whose kernel lemmatizes natively from
    # ``tables`` (features/kernel.py) never calls it (0.015 s a task)
    lemma_sets = {}
    exceptions = {pos: tables["exceptions"][pos] for pos in POSES}
    substitutions = {pos: [tuple(rule) for rule in tables["substitutions"][pos]]
                     for pos in POSES}

    # one endswith() with every suffix of a POS spares the rule loop for the
    # many forms no rule applies to (no rule of "n" or "v" has an empty suffix)
    suffixes = {pos: tuple(old for old, _ in substitutions[pos]) for pos in POSES}

    def morphy(form, pos):
        lemmas = lemma_sets.get(pos)
        if lemmas is None:
            lemmas = lemma_sets[pos] = frozenset(tables["lemmas"][pos])
        if form in exceptions[pos]:
            forms = exceptions[pos][form]
        elif form.endswith(suffixes[pos]):
            forms = [form[:-len(old)] + new for old, new in substitutions[pos]
                     if form.endswith(old)]
        else:
            if form in lemmas:
                return [form]
            return []
        result = []
        for candidate in [form] + forms:
            if candidate in lemmas and candidate not in result:
                result.append(candidate)
        return result

    def lemmatize(word, pos):
        lemmas = morphy(word, pos)
        return min(lemmas, key=len) if lemmas else word

    # what it runs on, for the native lemmatizer (features/kernel.py)
    lemmatize.tables = tables
    return lemmatize


@functools.lru_cache(maxsize=None)
def load_wordnet_lemmatize():
    """``lemmatize(word, pos)`` over the cached tables (see the module docstring)."""
    return build_lemmatize(load_lemma_tables())


def english_stop_words():
    """scikit-learn's English stop list, without importing scikit-learn.

    Importing ``sklearn`` costs over a second per process (it imports
    scipy); the list is a literal in ``sklearn/feature_extraction/
    _stop_words.py``, loaded here as a module of its own.
    """
    import sys

    loaded = sys.modules.get("sklearn.feature_extraction._stop_words")
    if loaded is not None:
        return frozenset(loaded.ENGLISH_STOP_WORDS)
    package = importlib.util.find_spec("sklearn")
    if package is None or not package.submodule_search_locations:
        raise ImportError("scikit-learn is needed for the English stop list")
    path = os.path.join(list(package.submodule_search_locations)[0],
                        "feature_extraction", "_stop_words.py")
    spec = importlib.util.spec_from_file_location("_jeeves_sklearn_stop_words", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.ENGLISH_STOP_WORDS)
