"""The motivating use: flag Enron emails about meetings and logistics.

`jeeves run` on the Berkeley labelled Enron set with category 1,4 ("Logistic
Arrangements (meeting scheduling, technical support, etc)") must reach a
cross-validated ROC AUC of at least 0.88 and a PR AUC of at least 0.75 for
the chosen model.
"""

import json
import os

import pytest

from scripts import cli

BERKELEY = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data",
                        "enron-berkeley")
# The labels describe whole threads, so the quoted history is analyzed too.
OPTIONS = ["--labels", "cats:1,4", "--fields", "subject,body,quoted", "--min-df", "2",
           "--max-df", "0.5", "--sublinear-tf", "--no-placeholders",
           "--models", "logistic_regression,linear_svc", "--no-graph"]


@pytest.mark.slow
def test_meeting_requests_are_found(tmp_path):
    if not os.path.isdir(BERKELEY):
        pytest.skip("../shared/data/enron-berkeley not found")
    out = tmp_path / "out"
    assert cli.main(["run", "--input", BERKELEY, "--output", str(out)] + OPTIONS) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["labels"]["positive"] == 365
    chosen = summary["models"][summary["chosen_model"]]
    assert chosen["cv"]["roc_auc"]["mean"] >= 0.88
    assert chosen["cv"]["pr_auc"]["mean"] >= 0.75
    assert chosen["cv"]["recall"]["mean"] >= 0.9
