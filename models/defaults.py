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
