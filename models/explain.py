"""Scores with reasons: a loaded bundle's predictions and, per message, the top
contributions (weight x feature value) of a linear model.

``Explainer(predictor).predict(records)`` -> (predictions, tops): the
predictions are what ``predictor.predict(records)`` gives (the same
arithmetic: `jeeves serve` and `jeeves watch` score exactly as `jeeves
predict`), each message analyzed once for both; ``tops`` the ``count``
largest ``|weight x value|`` features of each message as [(feature,
contribution)], positive pushing toward label 1:

- a numpy scorer (jeeves.models.fastscore.FastScorer): its weights (the
  mean of the rows, times their scale) over the tf-idf vector; terms named
  from vocabulary.tsv, read once;
- an email pipeline (``features`` then a linear ``clf``): its feature groups
  computed once for the score and the contributions, with numpy from the
  fitted parameters (jeeves.models.email_features.FastEmailScorer; the
  first batch a loaded bundle scores is also scored through the pipeline,
  and a score differing by more than CHECK_TOLERANCE turns the fast path
  off for good), else through the pipeline
  (jeeves.models.email_features.row_contributions);
- another full bundle: jeeves.models.run.explainer, none for models whose
  weights do not apply to the features as they are (an empty list).
"""

TOP = 5
# largest difference allowed between the email fast path's first scores and the pipeline's
CHECK_TOLERANCE = 1e-9


class Explainer:
    """The top contributions (weight x feature value) of a message for a loaded
    predictor: a fastscore.FastScorer's weights over the tf-idf vector, or a
    full bundle's linear estimator (jeeves.models.run.explainer); none for
    models whose weights do not apply to the features as they are."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.names = None
        self.email_names = None
        # the email pipeline's FastEmailScorer: None until tried, False when it
        # does not apply or its first batch differed from the pipeline's
        self.email_fast = None
        self.email_checked = False

    def _terms(self, vocabulary_path):
        if self.names is None:
            from jeeves.features.vocabulary import read_vocabulary_by_id

            self.names = read_vocabulary_by_id(vocabulary_path)[0]
        return self.names

    def predict(self, records, count=TOP):
        """(predictions as ``predictor.predict(records)`` gives them,
        [[(feature, contribution), ...] per record])."""
        from jeeves.models.fastscore import FastScorer

        if not records:
            return [], []
        if isinstance(self.predictor, FastScorer):
            return self._fast(records, count)
        return self._full(records, count)

    def _fast(self, records, count):
        """The numpy scorer's predictions and contributions from one analysis of
        each message (FastScorer.predict's arithmetic, on the same entries)."""
        import numpy as np

        from jeeves.features.tfidf import document_entries
        from jeeves.features.vocabulary import read_whole_vocabulary
        from jeeves.models.fastscore import linear_scores

        scorer = self.predictor
        arrays = scorer.arrays
        if scorer.table is None:
            scorer.table = read_whole_vocabulary(scorer.vocabulary_path)
        owner, ids, values = document_entries(records, scorer.analyzer, scorer.table,
                                              scorer.sublinear_tf, scorer.norm,
                                              scorer.bucket_of)
        scores = linear_scores(arrays, owner, ids, values, len(records))
        predictions = [{"message_id": record["message_id"], "score": float(score),
                        "label": int(score >= scorer.threshold),
                        "source": record.get("source")}
                       for record, score in zip(records, scores)]
        owner, ids = np.asarray(owner), np.asarray(ids)
        values = np.asarray(values, dtype=np.float64)
        binarize = float(arrays["binarize"])
        if not np.isnan(binarize):
            values = (values > binarize).astype(np.float64)
        weights = np.mean(arrays["weights"] * arrays["scales"][:, None], axis=0)
        names = self._terms(scorer.vocabulary_path) if scorer.bucket_of is None else None
        tops = []
        for row in range(len(records)):
            mine = owner == row
            contributions = values[mine] * weights[ids[mine]]
            order = np.argsort(-np.abs(contributions), kind="stable")[:count]
            tops.append([(str(names[ids[mine][i]]) if names is not None
                          else "bucket:%d" % ids[mine][i], float(contributions[i]))
                         for i in order if contributions[i] != 0])
        return predictions, tops

    def _full(self, records, count):
        """A full bundle's predictions (predict_records' arithmetic) and top
        contributions; an email pipeline's feature groups are computed once for
        both (the Pipeline's own predict_proba is the classifier's over them)."""
        from jeeves.models.documents import Documents
        from jeeves.models.run import explainer
        from jeeves.models.scoring import BundleVectorizer, takes_documents

        bundle = self.predictor
        if bundle.vectorizer is None:
            bundle.vectorizer = BundleVectorizer(bundle)
        if takes_documents(bundle) and self._email_scorer() is not None:
            return self._email_fast(records, count)
        matrix = bundle.vectorizer.transform(records)
        if takes_documents(bundle):
            matrix = Documents(matrix, records)
        steps = getattr(bundle.estimator, "named_steps", {})
        if list(steps) == ["features", "clf"] and hasattr(steps["clf"], "coef_"):
            return self._email(records, matrix, count)
        predictions = bundle.predict(records)
        try:
            explain = explainer(bundle.estimator, matrix,
                                self._terms(bundle.vocabulary_path), count)
        except (AttributeError, KeyError, TypeError, ValueError):
            explain = None
        if explain is None:
            return predictions, [[] for _ in records]
        return predictions, [[(name, float(value)) for name, value in explain(row)]
                             for row in range(len(records))]

    def _email(self, records, documents, count):
        import numpy as np
        import scipy.sparse as sp

        from jeeves.models.email_features import feature_names, row_contributions
        from jeeves.models.training import positive_scores

        bundle = self.predictor
        steps = bundle.estimator.named_steps
        if self.email_names is None:
            self.email_names = feature_names(bundle.estimator,
                                             self._terms(bundle.vocabulary_path))
        features = steps["features"].transform(documents)
        scores = positive_scores(steps["clf"], features)
        labels = bundle.label(scores)
        predictions = [{"message_id": record["message_id"], "score": float(score),
                        "label": int(label), "source": record.get("source")}
                       for record, score, label in zip(records, scores, labels)]
        rows = sp.csr_matrix(features)
        weights = np.ravel(steps["clf"].coef_)
        return predictions, [row_contributions(rows, row, weights, self.email_names, count)
                             for row in range(len(records))]

    def _email_scorer(self):
        """The bundle's FastEmailScorer, made on first use; None when it does not apply."""
        if self.email_fast is None:
            from jeeves.models.email_features import fast_email_scorer

            steps = getattr(self.predictor.estimator, "named_steps", {})
            fast = None
            if list(steps) == ["features", "clf"] and hasattr(steps["clf"], "coef_"):
                fast = fast_email_scorer(self.predictor.estimator)
            self.email_fast = fast if fast is not None else False
        return self.email_fast or None

    def _email_fast(self, records, count):
        """_email's predictions and contributions by the FastEmailScorer: one
        analysis of each message, every group computed once for both."""
        import numpy as np

        from jeeves.features.tfidf import document_entries
        from jeeves.models.email_features import entry_contributions, feature_names

        bundle, fast = self.predictor, self.email_fast
        vectorizer = bundle.vectorizer
        owner, ids, values = document_entries(records, vectorizer.analyzer, vectorizer.table,
                                              vectorizer.sublinear_tf, vectorizer.norm,
                                              vectorizer.bucket_of)
        rows = fast.rows(records, owner, ids, values, vectorizer.n_features)
        scores = fast.scores(rows)
        if not self.email_checked:
            from jeeves.models.documents import Documents

            reference = self._email(records, Documents(vectorizer.transform(records), records),
                                    count)
            expected = np.array([prediction["score"] for prediction in reference[0]])
            if not np.all(np.abs(expected - scores) <= CHECK_TOLERANCE):
                self.email_fast = False
                return reference
            self.email_checked = True
        if self.email_names is None:
            self.email_names = feature_names(bundle.estimator,
                                             self._terms(bundle.vocabulary_path))
        labels = bundle.label(scores)
        predictions = [{"message_id": record["message_id"], "score": float(score),
                        "label": int(label), "source": record.get("source")}
                       for record, score, label in zip(records, scores, labels)]
        return predictions, [entry_contributions(columns, data, fast.weights,
                                                 self.email_names, count)
                             for columns, data in rows]
