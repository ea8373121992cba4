"""Save and load a trained model bundle: a directory with checksummed files.

Layout (format version 2)::

    model/
      estimator.skops    the fitted scikit-learn Pipeline (skops.io, not a pickle)
      analyzer.json      the analyzer configuration that produced the features
      vocabulary.tsv     term, id, df, idf: the feature space and its idf weights
      model.json         model name, decision threshold, n_features, CV metrics
      scorer.npz         only for the linear models models/fastscore.py supports:
                         their weights as plain arrays, to score without
                         scikit-learn or skops (`jeeves predict`, `jeeves watch`)
      metadata.json      format version, creation time, library versions and
                         the sha256 of every other file

Loading checks the format version, the scikit-learn major.minor version (a
saved estimator is only reliable with the version that wrote it) and every
checksum before the estimator is read, and raises BundleError (a ValueError)
with one clear message otherwise. The checksums catch corruption, partial
copies and edited files; they are not a signature.

``load_predictor`` is what `jeeves predict` and `jeeves watch` use: the same
checks, then the scorer file when the bundle has one (listed in the
checksums), else the full bundle; bundles saved before the scorer existed
load the full way. scikit-learn and skops are imported only on the full
way, which is most of a fresh process's start.

The estimator is stored with ``skops.io``, which rebuilds objects from a
schema instead of running pickled code: loading refuses (BundleError naming
them) every type that is neither in skops' own safe set (scikit-learn's
estimators, numpy and scipy arrays, builtins) nor in ``TRUSTED_TYPES``, the
one list of the other types Jeeves' models are made of. A bundle from
someone else can then at worst hold wrong numbers, not run code.
"""

import hashlib
import io
import json
import os
import platform
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata

from jeeves.features.vocabulary import HEADER as VOCABULARY_HEADER
from jeeves.files import replaced_directory
from jeeves.models import fastscore

FORMAT_VERSION = 2
ESTIMATOR_FILE = "estimator.skops"
ANALYZER_FILE = "analyzer.json"
VOCABULARY_FILE = "vocabulary.tsv"
MODEL_FILE = "model.json"
METADATA_FILE = "metadata.json"
CHECKSUMMED_FILES = (ESTIMATOR_FILE, ANALYZER_FILE, VOCABULARY_FILE, MODEL_FILE)
# written for the models fastscore supports; checked whenever metadata.json lists it
SCORER_FILE = fastscore.SCORER_FILE
# distributions whose versions are recorded in metadata.json
RECORDED_PACKAGES = ("scikit-learn", "numpy", "scipy", "skops", "nltk", "jeeves")
# Types outside skops' default safe set that Jeeves' estimators contain
# (models/registry.py, models/email_features.py, models/intent.py,
# models/lsa.py). A new model type is added here, and only here.
TRUSTED_TYPES = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.feature_selection._univariate_selection.chi2",
    "sklearn.tree._tree.Tree",
    "jeeves.models.email_features.CharNgrams",
    "jeeves.models.email_features.ContactFeatures",
    "jeeves.models.email_features.RecordFeatures",
    "jeeves.models.email_features.TfidfColumns",
    "jeeves.models.intent.IntentFeatures",
    "jeeves.models.intent.IntentModel",
    "jeeves.models.lsa.CorpusSvd",
    "jeeves.models.lsa.LsaFeatures",
)


class BundleError(ValueError):
    """A bundle that is missing, tampered with, or incompatible with this install."""


@dataclass
class Bundle:
    """A loaded model bundle."""

    path: str
    estimator: object
    threshold: float
    analyzer_config: dict
    model: dict  # the content of model.json
    metadata: dict  # the content of metadata.json
    # jeeves.models.scoring.BundleVectorizer, made by the first predict()
    vectorizer: object = field(default=None, repr=False, compare=False)

    @property
    def vocabulary_path(self):
        return os.path.join(self.path, VOCABULARY_FILE)

    def score(self, X):
        """Positive-class scores of a feature matrix built with this bundle's vocabulary."""
        if X.shape[1] != self.model["n_features"]:
            raise BundleError("features have %d columns, the model expects %d"
                              % (X.shape[1], self.model["n_features"]))
        from jeeves.models.training import positive_scores

        return positive_scores(self.estimator, X)

    def label(self, scores):
        """0/1 labels of scores at the bundle's threshold."""
        from jeeves.models import metrics

        return metrics.predict_at(scores, self.threshold)

    def predict(self, records):
        """[{"message_id", "score", "label", "source"}] for parsed records
        (jeeves.models.scoring.predict_records; the vocabulary is read once)."""
        from jeeves.models.scoring import BundleVectorizer, predict_records

        if self.vectorizer is None:
            self.vectorizer = BundleVectorizer(self)
        return predict_records(self, records, self.vectorizer)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions():
    """Python and RECORDED_PACKAGES versions ("not installed" when absent)."""
    versions = {"python": platform.python_version()}
    for package in RECORDED_PACKAGES:
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _major_minor(version):
    return ".".join(version.split(".")[:2])


# what skops.io names by an object's id() in the writing process
SKOPS_ID = re.compile(r'"__id__": (\d+)|"file": "(\d+)(\.[a-z]+)"')
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def estimator_bytes(estimator):
    """skops.io.dumps, as a function of the estimator alone: skops names every
    object (``__id__``) and stored array by the object's ``id()`` in this
    process and dates the zip entries with the clock, so two equal estimators
    gave two different files (and checksums). The ids are renumbered in order
    of first appearance in the schema and the entries dated 1980-01-01."""
    numbers = {}

    def renumber(match):
        found = match.group(1) or match.group(2)
        number = numbers.setdefault(found, str(len(numbers)))
        if match.group(1):
            return '"__id__": ' + number
        return '"file": "%s%s"' % (number, match.group(3))

    import skops.io

    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(estimator))) as source:
        schema = SKOPS_ID.sub(renumber, source.read("schema.json").decode("utf-8"))
        entries = []
        for info in source.infolist():
            name, data = info.filename, source.read(info.filename)
            if name == "schema.json":
                data = schema.encode("utf-8")
            else:
                stem, dot, extension = name.partition(".")
                name = numbers.setdefault(stem, str(len(numbers))) + dot + extension
            entries.append((name, data, info))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name, data, info in sorted(entries, key=lambda entry: entry[0]):
            entry = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            target.writestr(entry, data)
    return buffer.getvalue()


def dump_estimator(estimator, path):
    """Write :func:`estimator_bytes` to ``path``."""
    with open(path, "wb") as handle:
        handle.write(estimator_bytes(estimator))


def _json_bytes(value):
    """A JSON file's bytes as the bundle writes them (sorted keys, indented, a
    final newline)."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


def vocabulary_rows(data):
    """The rows ``(term, id, df, idf)`` of a vocabulary.tsv's bytes, in file
    order: what jeeves.features.vocabulary.read_vocabulary_rows reads from
    its file (the same decoding, newlines, header check and four fields a
    row, a block of about 1 MiB at a time), for a vocabulary a caller holds
    in memory (the train stage receives it once and writes no copy)."""
    rows = []
    handle = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    header = tuple(handle.readline().rstrip("\n").split("\t"))
    if header != VOCABULARY_HEADER:
        raise ValueError("%s: not a vocabulary.tsv (header %r)" % (VOCABULARY_FILE,
                                                                  list(header)))
    while True:
        lines = handle.readlines(1 << 20)
        if not lines:
            return rows
        fields = "".join(lines).replace("\n", "\t").split("\t")
        if len(fields) != 4 * len(lines) + 1:
            raise ValueError("%s: a row does not have 4 fields" % (VOCABULARY_FILE,))
        rows.extend(zip(fields[0:-1:4], map(int, fields[1:-1:4]), map(int, fields[2:-1:4]),
                        map(float, fields[3:-1:4])))


def vocabulary_terms(rows):
    """The terms of vocabulary rows (:func:`vocabulary_rows`) indexed by feature
    id, as jeeves.features.vocabulary.read_vocabulary_by_id gives them: the
    ids must be 0..n-1, each once (ValueError)."""
    terms = [None] * len(rows)
    for term, feature_id, _, _ in rows:
        if not 0 <= feature_id < len(rows) or terms[feature_id] is not None:
            raise ValueError("%s: feature ids must be 0..%d, each once; bad id %d"
                             % (VOCABULARY_FILE, len(rows) - 1, feature_id))
        terms[feature_id] = term
    return terms


def bundle_files(estimator, threshold, analyzer_config, vocabulary, model_name, n_features,
                 extra=None):
    """The bundle's files, made in memory -> {name: bytes} in the order they are
    written, metadata.json (with every other file's sha256) last.

    `vocabulary` is vocabulary.tsv's bytes, or its path (read once), stored
    byte for byte; `extra` (JSON-ready, e.g. CV metrics) is stored in
    model.json; scorer.npz is made when fastscore supports the estimator,
    with the term table of the vocabulary's rows.
    """
    if not isinstance(vocabulary, bytes):
        with open(vocabulary, "rb") as handle:
            vocabulary = handle.read()
    files = {ESTIMATOR_FILE: estimator_bytes(estimator),
             ANALYZER_FILE: _json_bytes(analyzer_config),
             VOCABULARY_FILE: vocabulary,
             MODEL_FILE: _json_bytes({
                 "model_name": model_name,
                 "threshold": float(threshold),
                 "n_features": int(n_features),
                 "positive_label": 1,
                 "extra": extra or {},
             })}
    checksummed = list(CHECKSUMMED_FILES)
    arrays = fastscore.scorer_arrays(estimator, n_features)
    if arrays is not None:
        try:
            arrays.update(fastscore.term_arrays_of_rows(vocabulary_rows(vocabulary)))
        except ValueError:
            pass  # no term table (fastscore.term_arrays): the scorer reads vocabulary.tsv
        buffer = io.BytesIO()
        fastscore.write_scorer(buffer, arrays)
        files[SCORER_FILE] = buffer.getvalue()
        checksummed.append(SCORER_FILE)
    files[METADATA_FILE] = _json_bytes({
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "sha256": {name: hashlib.sha256(files[name]).hexdigest() for name in checksummed},
    })
    return files


def save_bundle(directory, estimator, threshold, analyzer_config, vocabulary, model_name,
                n_features, extra=None):
    """Write a bundle to `directory` (replacing an existing bundle there); return its path.

    The files are :func:`bundle_files`' (`vocabulary`: vocabulary.tsv's path
    or bytes, copied byte for byte). The bundle is assembled in a temporary
    sibling directory and renamed into place, so a failed save never leaves
    a bundle that looks complete.
    """
    directory = os.path.abspath(os.fspath(directory))
    files = bundle_files(estimator, threshold, analyzer_config, vocabulary, model_name,
                         n_features, extra)
    with replaced_directory(directory) as staging:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as handle:
                handle.write(data)
    return directory


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise BundleError("cannot read %s %s: %s" % (what, path, error)) from None


def load_estimator(path):
    """Read a skops estimator file, refusing any type outside TRUSTED_TYPES and skops' safe set.

    Raises BundleError naming the untrusted types, or the reason the file
    cannot be read.
    """
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # a file skops cannot read is an unusable bundle
        raise BundleError("cannot read the estimator %s: %s" % (path, error)) from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise BundleError("refusing the estimator %s: it holds types Jeeves does not trust: %s"
                          % (path, ", ".join(refused)))
    try:
        return skops.io.load(path, trusted=list(untrusted))
    except Exception as error:  # whatever skops raises, the bundle is unusable
        raise BundleError("cannot load the estimator %s: %s" % (path, error)) from None


def verify_bundle(directory):
    """Check the bundle in `directory`: format version, scikit-learn version, every
    checksum (scorer.npz too when listed) -> its metadata; BundleError on any problem.

    The scikit-learn version is read from the installed distribution's
    metadata, which costs no import of scikit-learn.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise BundleError("no model bundle at %s (not a directory)" % directory)
    meta = _read_json(os.path.join(directory, METADATA_FILE), "bundle metadata")
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        found = meta.get("format_version") if isinstance(meta, dict) else None
        raise BundleError("model bundle %s has format version %r; this jeeves reads version %d"
                          % (directory, found, FORMAT_VERSION))
    saved_sklearn = str((meta.get("versions") or {}).get("scikit-learn", "unknown"))
    installed = importlib_metadata.version("scikit-learn")
    if _major_minor(saved_sklearn) != _major_minor(installed):
        raise BundleError("model bundle %s was saved with scikit-learn %s, this is %s; "
                          "retrain it or install scikit-learn %s.x"
                          % (directory, saved_sklearn, installed, _major_minor(saved_sklearn)))
    checksums = meta.get("sha256") or {}
    listed = list(CHECKSUMMED_FILES) + ([SCORER_FILE] if SCORER_FILE in checksums else [])
    for name in listed:
        path = os.path.join(directory, name)
        if name not in checksums:
            raise BundleError("model bundle %s has no checksum for %s" % (directory, name))
        if not os.path.isfile(path):
            raise BundleError("model bundle %s is missing %s" % (directory, name))
        if sha256_of(path) != checksums[name]:
            raise BundleError("model bundle %s: %s does not match its sha256 checksum "
                              "(modified or corrupt)" % (directory, name))
    return meta


def load_bundle(directory):
    """Verify and load the bundle in `directory` -> Bundle; BundleError on any problem."""
    directory = os.fspath(directory)
    meta = verify_bundle(directory)
    model = _read_json(os.path.join(directory, MODEL_FILE), "model description")
    analyzer_config = _read_json(os.path.join(directory, ANALYZER_FILE), "analyzer config")
    estimator = load_estimator(os.path.join(directory, ESTIMATOR_FILE))
    return Bundle(path=directory, estimator=estimator, threshold=float(model["threshold"]),
                  analyzer_config=analyzer_config, model=model, metadata=meta)


def load_predictor(directory):
    """What scores parsed records with the bundle in `directory`: a
    fastscore.FastScorer when it has a scorer file, else the loaded Bundle;
    both have ``predict(records)`` -> [{"message_id", "score", "label",
    "source"}]. BundleError on any problem, as load_bundle."""
    directory = os.fspath(directory)
    meta = verify_bundle(directory)
    if SCORER_FILE not in (meta.get("sha256") or {}):
        return load_bundle(directory)
    path = os.path.join(directory, SCORER_FILE)
    try:
        arrays = fastscore.read_scorer(path)
    except ValueError as error:
        raise BundleError(str(error)) from None
    if arrays is None:  # a scorer format this jeeves does not know
        return load_bundle(directory)
    model = _read_json(os.path.join(directory, MODEL_FILE), "model description")
    if arrays["weights"].shape[1] != model.get("n_features"):
        raise BundleError("model bundle %s: the scorer has %d features, the model %r"
                          % (directory, arrays["weights"].shape[1], model.get("n_features")))
    return fastscore.FastScorer(arrays, model,
                                _read_json(os.path.join(directory, ANALYZER_FILE),
                                           "analyzer config"),
                                os.path.join(directory, VOCABULARY_FILE))
