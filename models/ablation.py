"""The ablation table of the email feature groups: text alone, then each group added.

``ablation_variants(groups)`` names the rows: ``text``, ``text + G`` for
each group G, and ``all groups`` (when there are two or more). ``ablate``
cross-validates ``jeeves.models.email_features.email_pipeline`` for each row on
given folds at one fixed C and returns, per row, the per-fold ROC AUC and PR
AUC (jeeves.models.report.ablation_rows renders them as mean ± std).

`jeeves run` calls it on the comparison's own outer folds with the C the
email model's inner searches chose most often, so the table shows what
each group adds to the model the run chose, at the price of one fit per
row and fold (no inner search: 5 x 7 fits where the nested comparison
makes 5 x 3 x 2 + 5). tools/bench_models.py measures the same rows nested
(C tuned inside each outer fold).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from jeeves.models.email_features import GROUP_WEIGHT, check_groups, email_pipeline

ALL_GROUPS_ROW = "all groups"


def ablation_variants(groups):
    """[(row name, groups)] of the table: text, text + each group, all groups."""
    extra = [name for name in check_groups(groups) if name != "text"]
    rows = [("text", ["text"])]
    rows += [("text + %s" % name, ["text", name]) for name in extra]
    if len(extra) > 1:
        rows.append((ALL_GROUPS_ROW, ["text"] + extra))
    return rows


def ablate(documents, y, folds, groups, C, intent_model=None, corpus_svd=None, seed=0,
           progress=None):
    """Each row of ``ablation_variants(groups)`` fitted at C on every training part of
    `folds` and scored on its held-out part -> [{"name", "groups", "roc_auc", "pr_auc",
    "seconds"}] (ROC AUC and PR AUC as per-fold lists)."""
    y = np.asarray(y)
    rows = []
    for name, names in ablation_variants(groups):
        started = time.perf_counter()
        roc, pr = [], []
        for train, test in folds:
            model = email_pipeline(names, C=C, intent_model=intent_model, corpus_svd=corpus_svd,
                                   group_weight=GROUP_WEIGHT, seed=seed)
            scores = model.fit(documents[train], y[train]).predict_proba(documents[test])[:, 1]
            roc.append(float(roc_auc_score(y[test], scores)))
            pr.append(float(average_precision_score(y[test], scores)))
        rows.append({"name": name, "groups": names, "roc_auc": roc, "pr_auc": pr,
                     "seconds": round(time.perf_counter() - started, 3)})
        if progress is not None:
            progress(rows[-1])
    return rows
