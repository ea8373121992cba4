"""`jeeves predict --runner`: the scoring job over a messages directory equals
`jeeves predict` in this process, message by message, within 1e-9."""

import json

from jeeves import cli
from tests.fixtures.tiny_corpus import write_corpus


def test_predict_on_a_runner_equals_predict_here(tmp_path, capsys):
    write_corpus(str(tmp_path / "corpus"))
    out = tmp_path / "out"
    assert cli.main(["run", "--input", str(tmp_path / "corpus"), "--output", str(out),
                     "--labels", "meeting*=1,other*=0", "--models", "logistic_regression",
                     "--folds", "2", "--no-graph"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(out / "model"), str(out / "messages")]) == 0
    here = {row["message_id"]: row for row in map(json.loads, capsys.readouterr().out.split(
        "\n")[:-1])}
    assert cli.main(["predict", "--model", str(out / "model"), "--runner", "inline",
                     "--output", str(tmp_path / "scored"), str(out / "messages")]) == 0
    assert "scored %d messages" % len(here) in capsys.readouterr().out
    scores = tmp_path / "scored" / "predictions" / "scores"
    rows = [json.loads(line) for part in sorted(scores.glob("part-*"))
            for line in part.read_text().splitlines() if line]
    assert sorted(row["message_id"] for row in rows) == sorted(here)
    for row in rows:
        assert abs(row["score"] - here[row["message_id"]]["score"]) <= 1e-9
        assert row["label"] == here[row["message_id"]]["label"]
    flagged = tmp_path / "scored" / "predictions" / "flagged"
    assert sorted(json.loads(line)["message_id"] for part in flagged.glob("part-*")
                  for line in part.read_text().splitlines() if line) == \
        sorted(key for key, row in here.items() if row["label"] == 1)
    assert (tmp_path / "scored" / "predictions" / "_SUCCESS").exists()
