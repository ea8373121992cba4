"""The one text analyzer of Jeeves: message record (or text) -> list of terms.

Every job, the training code and prediction build it from the same
configuration dict, so a term means the same thing everywhere. The steps, in
order (scikit-learn's ``build_preprocessor`` / ``build_tokenizer`` /
``build_analyzer`` split, each a builder returning a callable):

1. text: the configured record fields (default ``subject`` and ``body``, the
   new text, not the ``quoted`` history) joined by newlines;
2. preprocess: Unicode normalization (NFKC), lowercase, optional accent
   stripping (scikit-learn's ``strip_accents_unicode`` / ``_ascii``), then
   placeholder tokens for URLs, email addresses and numbers;
3. tokenize: ``re.findall`` of the token pattern (scikit-learn's default
   ``(?u)\\b\\w\\w+\\b``);
4. filter and lemmatize each token through one memo (a dict; a
   least-recently-used cache in `jeeves watch` and `serve`): a token that is a
   stop word is dropped; otherwise its WordNet lemma is taken with the POS
   strategy "verb, then noun": ``lemmatize(token, "v")``, and when that leaves
   the token unchanged ``lemmatize(token, "n")`` (so "meetings" -> "meeting",
   "scheduled" -> "schedule", "was" -> "be"); a lemma that is itself a stop
   word is dropped too. Placeholder tokens are kept as they are.
   ``lemmatize`` is NLTK's WordNetLemmatizer's, run on tables of WordNet
   that load in a fraction of a second (features/wordnet.py); the stop list
   is scikit-learn's, read without importing scikit-learn.
5. word n-grams ``ngram_min..ngram_max`` over the kept lemmas, joined by one
   space, in scikit-learn's order (all unigrams, then all bigrams, ...).

``Analyzer(config)`` is a plain, picklable callable, so
``TfidfVectorizer(analyzer=Analyzer(config))`` and a saved model bundle
rebuild exactly the terms the jobs count. WordNet is loaded when the
callable is built (``Analyzer.load()``, in a task's ``*_init``).
"""

import functools
import re
import unicodedata

from jeeves.features.wordnet import english_stop_words, load_wordnet_lemmatize

DEFAULT_CONFIG = {
    "fields": ["subject", "body"],
    "unicode_form": "NFKC",
    "lowercase": True,
    "strip_accents": None,
    "placeholders": True,
    "token_pattern": r"(?u)\b\w\w+\b",
    "stop_words": "english",
    "lemmatize": True,
    "ngram_min": 1,
    "ngram_max": 1,
}

STRIP_ACCENTS = (None, "unicode", "ascii")

# Placeholders are plain words so the token pattern keeps them whole. URLs go
# first: they may contain addresses and numbers.
URL_TOKEN = " urltoken "
EMAIL_TOKEN = " emailtoken "
NUMBER_TOKEN = " numbertoken "
PLACEHOLDERS = frozenset(token.strip() for token in (URL_TOKEN, EMAIL_TOKEN, NUMBER_TOKEN))
URL_RE = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']+", re.IGNORECASE)
EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Digits with their separators and ordinal or unit suffixes: 3, 3.5, 1,000,
# 10am, 2nd, 555-1234.
NUMBER_RE = re.compile(r"\b\d[\d.,:/-]*\w*")


def config_with_defaults(config=None):
    """A full analyzer configuration: ``config`` over ``DEFAULT_CONFIG``.

    Raises ValueError naming the bad key or value.
    """
    merged = dict(DEFAULT_CONFIG)
    for key, value in (config or {}).items():
        if key not in DEFAULT_CONFIG:
            raise ValueError("unknown analyzer option: %r" % (key,))
        merged[key] = value
    if merged["strip_accents"] not in STRIP_ACCENTS:
        raise ValueError("strip_accents must be one of %r, not %r"
                         % (STRIP_ACCENTS, merged["strip_accents"]))
    if not 1 <= merged["ngram_min"] <= merged["ngram_max"]:
        raise ValueError("need 1 <= ngram_min <= ngram_max, got %r..%r"
                         % (merged["ngram_min"], merged["ngram_max"]))
    stop_words = merged["stop_words"]
    if isinstance(stop_words, str) and stop_words != "english":
        raise ValueError("not a built-in stop list: %r" % (stop_words,))
    if not merged["fields"]:
        raise ValueError("fields must name at least one record field")
    merged["fields"] = list(merged["fields"])
    return merged


def build_text_getter(config):
    """Return doc -> str: a record's configured fields joined, or a str as is."""
    fields = config["fields"]

    def get_text(doc):
        if isinstance(doc, str):
            return doc
        return "\n".join(doc.get(field) or "" for field in fields)

    return get_text


def build_preprocessor(config):
    """Return str -> str: normalize, lowercase, strip accents, placeholders."""
    unicode_form = config["unicode_form"]
    lowercase = config["lowercase"]
    strip_accents = None
    if config["strip_accents"] == "unicode":
        strip_accents = strip_accents_unicode
    elif config["strip_accents"] == "ascii":
        strip_accents = strip_accents_ascii
    placeholders = config["placeholders"]

    def preprocess(text):
        if unicode_form:
            text = unicodedata.normalize(unicode_form, text)
        if lowercase:
            text = text.lower()
        if strip_accents is not None:
            text = strip_accents(text)
        if placeholders:
            # the cheap substring tests spare a regex pass over most texts
            if "://" in text or "www." in text or not lowercase:
                text = URL_RE.sub(URL_TOKEN, text)
            if "@" in text:
                text = EMAIL_RE.sub(EMAIL_TOKEN, text)
            text = NUMBER_RE.sub(NUMBER_TOKEN, text)
        return text

    return preprocess


def strip_accents_unicode(text):
    """Accented letters to their base letter (as scikit-learn's function)."""
    if text.isascii():
        return text
    normalized = unicodedata.normalize("NFKD", text)
    return "".join([char for char in normalized if not unicodedata.combining(char)])


def strip_accents_ascii(text):
    """Accented letters to ASCII, other non-ASCII dropped (as scikit-learn's)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def build_tokenizer(config):
    """Return str -> list of tokens (``re.findall`` of the token pattern)."""
    return re.compile(config["token_pattern"]).findall


def load_stop_words(config):
    """The stop word set: scikit-learn's English list, a given list, or none."""
    stop_words = config["stop_words"]
    if stop_words is None:
        return frozenset()
    if stop_words == "english":
        return english_stop_words()
    return frozenset(stop_words)


def read_stop_words_file(path):
    """Stop words from a UTF-8 file, one per line; blank lines and # comments skipped."""
    with open(path, encoding="utf-8") as handle:
        words = [line.strip() for line in handle]
    return sorted({word for word in words if word and not word.startswith("#")})


DROPPED = ""


# The lemma memo's bound, in tokens, for processes that run for weeks
# (`jeeves watch`, `jeeves serve` set it before they build an analyzer): the
# memo is then a least-recently-used cache of that many tokens, so the new
# words of months of mail do not grow the process without end, and it stays
# at that size once full (`make soak`, docs/mailbox.md "Soak").
# None (batch jobs): unbounded, every distinct token of the corpus kept.
LEMMA_MEMO_LIMIT = None


def build_lemma_filter(config):
    """Return token -> lemma, or None for a dropped (stop) word, memoized.

    With ``LEMMA_MEMO_LIMIT`` None (read when the filter is built) the memo
    is a plain dict: after the first sight of a token, one lookup. It maps a
    dropped token to "" (never a lemma: tokens have 2+ characters). With a
    limit it is ``functools.lru_cache(maxsize=LEMMA_MEMO_LIMIT)`` around the
    same ``lemma_of``: past the limit each new token replaces the least
    recently seen one, and the memo keeps its size and its most used tokens
    (emptied and refilled instead, it dropped the common words with the rare
    ones and reallocated all of them every few hundred messages).
    """
    stop_words = load_stop_words(config)
    lemmatize = load_wordnet_lemmatize() if config["lemmatize"] else None

    def lemma_of(token):
        if token in PLACEHOLDERS:
            return token
        if token in stop_words:
            return DROPPED
        if lemmatize is None:
            return token
        lemma = lemmatize(token, "v")
        if lemma == token:
            lemma = lemmatize(token, "n")
        return DROPPED if lemma in stop_words else lemma

    limit = LEMMA_MEMO_LIMIT
    if limit is not None:
        # the C lru_cache: one call per token, thread-safe (`jeeves serve`)
        cached = functools.lru_cache(maxsize=int(limit))(lemma_of)

        def filter_and_lemmatize_bounded(tokens):
            return [lemma for lemma in map(cached, tokens) if lemma]

        filter_and_lemmatize_bounded.memo = cached  # cache_info(), cache_clear()
        filter_and_lemmatize_bounded.lemma_of = lemma_of
        return filter_and_lemmatize_bounded

    memo = {}

    def filter_and_lemmatize(tokens):
        # map(memo.get) runs in C: after warm-up nearly every token is a hit
        lemmas = list(map(memo.get, tokens))
        if None in lemmas:
            for index, lemma in enumerate(lemmas):
                if lemma is None:
                    token = tokens[index]
                    lemma = memo[token] = lemma_of(token)
                    lemmas[index] = lemma
        return [lemma for lemma in lemmas if lemma]

    filter_and_lemmatize.memo = memo
    # the filter of one token, unmemoized (features/kernel.py's native path memoizes it)
    filter_and_lemmatize.lemma_of = lemma_of
    return filter_and_lemmatize


def word_ngrams(lemmas, ngram_min, ngram_max):
    """Word n-grams ``ngram_min..ngram_max`` of ``lemmas``, scikit-learn's order."""
    if ngram_max == 1:
        return list(lemmas)
    terms = list(lemmas) if ngram_min == 1 else []
    space_join = " ".join
    for n in range(max(ngram_min, 2), min(ngram_max, len(lemmas)) + 1):
        # zip of n shifted views yields the n-grams in order, without a Python loop
        terms.extend(map(space_join, zip(*[lemmas[i:] for i in range(n)])))
    return terms


def build_analyzer(config=None):
    """Return doc -> list of terms, the composition of the builders above."""
    config = config_with_defaults(config)
    get_text = build_text_getter(config)
    preprocess = build_preprocessor(config)
    tokenize = build_tokenizer(config)
    filter_and_lemmatize = build_lemma_filter(config)
    ngram_min = config["ngram_min"]
    ngram_max = config["ngram_max"]

    def analyze(doc):
        lemmas = filter_and_lemmatize(tokenize(preprocess(get_text(doc))))
        return word_ngrams(lemmas, ngram_min, ngram_max)

    return analyze


class Analyzer:
    """Picklable analyzer: ``Analyzer(config)(doc) -> [term, ...]``.

    ``doc`` is a parsed message record (dict) or a str. Only the configuration
    is pickled; the callable (and WordNet) is rebuilt on first use.
    """

    def __init__(self, config=None):
        self.config = config_with_defaults(config)
        self._analyze = None

    def load(self):
        """Build the callable now and load WordNet (once per task)."""
        if self._analyze is None:
            self._analyze = build_analyzer(self.config)
        return self._analyze

    def __call__(self, doc):
        return (self._analyze or self.load())(doc)

    def __getstate__(self):
        return {"config": self.config}

    def __setstate__(self, state):
        self.__init__(state["config"])

    def __repr__(self):
        return "Analyzer(%r)" % (self.config,)


# --- analyzer options on a command line (mrjob jobs and the jeeves CLI) -----

def _comma_list(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def add_analyzer_args(add_argument, add_file_argument):
    """Declare the analyzer options with ``add_argument(flag, **kwargs)``.

    In a job pass ``self.add_passthru_arg, self.add_file_arg`` (the stop words
    file is shipped to the tasks); in argparse pass ``parser.add_argument``
    twice.
    """
    add_argument("--fields", type=_comma_list, default=DEFAULT_CONFIG["fields"],
                 help="comma-separated record fields to analyze (default: subject,body)")
    add_argument("--ngram-min", type=int, default=DEFAULT_CONFIG["ngram_min"],
                 help="smallest word n-gram (default 1)")
    add_argument("--ngram-max", type=int, default=DEFAULT_CONFIG["ngram_max"],
                 help="largest word n-gram (default 1)")
    add_argument("--stop-words", choices=["english", "none"], default="english",
                 help="built-in stop list: scikit-learn's English list or none")
    add_file_argument("--stop-words-file", default=None,
                      help="UTF-8 file of stop words, one per line (replaces --stop-words)")
    add_argument("--strip-accents", choices=["none", "unicode", "ascii"], default="none",
                 help="accent stripping, as scikit-learn's strip_accents (default none)")
    add_argument("--unicode-form", choices=["NFC", "NFKC", "NFD", "NFKD", "none"],
                 default=DEFAULT_CONFIG["unicode_form"],
                 help="Unicode normalization form applied first (default NFKC)")
    add_argument("--token-pattern", default=DEFAULT_CONFIG["token_pattern"],
                 help="regular expression of a token (default scikit-learn's)")
    add_argument("--no-lowercase", dest="lowercase", action="store_false", default=True,
                 help="keep case")
    add_argument("--no-placeholders", dest="placeholders", action="store_false", default=True,
                 help="keep URLs, email addresses and numbers instead of placeholder tokens")
    add_argument("--no-lemmatize", dest="lemmatize", action="store_false", default=True,
                 help="skip WordNet lemmatization")


def analyzer_config_from_options(options):
    """The analyzer configuration dict of parsed options (see add_analyzer_args)."""
    if options.stop_words_file:
        stop_words = read_stop_words_file(options.stop_words_file)
    elif options.stop_words == "none":
        stop_words = None
    else:
        stop_words = "english"
    return config_with_defaults({
        "fields": options.fields,
        "ngram_min": options.ngram_min,
        "ngram_max": options.ngram_max,
        "stop_words": stop_words,
        "strip_accents": None if options.strip_accents == "none" else options.strip_accents,
        "token_pattern": options.token_pattern,
        "unicode_form": None if options.unicode_form == "none" else options.unicode_form,
        "lowercase": options.lowercase,
        "placeholders": options.placeholders,
        "lemmatize": options.lemmatize,
    })


def analyzer_args(config, stop_words_file=None):
    """Command-line arguments that rebuild ``config`` in a job.

    A stop list that is not built in must be written to ``stop_words_file``
    first (the caller's path, shipped to the tasks by the job).
    """
    config = config_with_defaults(config)
    args = ["--fields", ",".join(config["fields"]),
            "--ngram-min", str(config["ngram_min"]),
            "--ngram-max", str(config["ngram_max"]),
            "--strip-accents", config["strip_accents"] or "none",
            "--unicode-form", config["unicode_form"] or "none",
            "--token-pattern", config["token_pattern"]]
    stop_words = config["stop_words"]
    if stop_words is None:
        args += ["--stop-words", "none"]
    elif stop_words != "english":
        if stop_words_file is None:
            raise ValueError("a custom stop list needs a stop_words_file to ship")
        args += ["--stop-words-file", stop_words_file]
    for flag in ("lowercase", "placeholders", "lemmatize"):
        if not config[flag]:
            args.append("--no-" + flag)
    return args
