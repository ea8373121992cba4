"""The training options' names and defaults, without the libraries that use them.

`jeeves parse`, `features` and `graph` build their command lines from
jeeves.options, which declares `jeeves run`'s training options too; these
names live here so that declaring them imports neither scikit-learn, scipy
nor matplotlib (a second of start-up for every command). The modules that
use them (email_features, intent, metrics) import them from here.
"""

import os

from jeeves.settings import Setting

# the email model's feature groups (models/email_features.py), and those on by
# default: measured on the Berkeley set (docs/models.md, "Feature groups measured")
GROUPS = ("text", "chars", "headers", "cues", "graph", "intent", "lsa")
DEFAULT_GROUPS = ("text", "headers", "cues", "graph", "intent", "lsa")
# the ParakweetLabs sentences shipped in the package (models/intent.py)
DEFAULT_INTENT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                                   "parakweet-intent.txt")
# the metrics a model can be chosen by (option `select_by`)
SELECTION_METRICS = ("pr_auc", "roc_auc")
# declared once (jeeves.settings): `jeeves run`'s options and the CV job's arguments
SELECT_BY = Setting("--select-by", "pr_auc", choices=SELECTION_METRICS,
                    help="the CV metric that chooses the model, and the one the inner grid "
                         "search maximizes (default: %(default)s)")
SEED = Setting("--seed", 0, int,
               help="seed of the CV folds and random_state of the models (default: %(default)s)")


def check_groups(groups):
    """A list of group names (a comma string or a sequence), ``text`` first; ValueError
    naming an unknown one."""
    if isinstance(groups, str):
        groups = [name.strip() for name in groups.split(",") if name.strip()]
    unknown = [name for name in groups if name not in GROUPS]
    if unknown:
        raise ValueError("unknown feature group %s (known: %s)"
                         % (", ".join(repr(name) for name in unknown), ", ".join(GROUPS)))
    return ["text"] + [name for name in dict.fromkeys(groups) if name != "text"]


def check_target_recall(target_recall):
    """Raise ValueError unless 0 < target_recall <= 1."""
    if not 0.0 < target_recall <= 1.0:
        raise ValueError("target recall must be in (0, 1]: %r" % (target_recall,))
