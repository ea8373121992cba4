"""tools/bench_models.py on a small hand-written corpus (the Berkeley table is in docs)."""

import json

from tests.models.corpus import MEETINGS, OTHERS
from tools import bench_models


def write_corpus(root, texts_by_folder, start=0):
    for folder, texts in texts_by_folder.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for number, text in enumerate(texts, start):
            (root / folder / ("%d.txt" % number)).write_text(
                "Message-ID: <%s%d@x>\nFrom: kay%d@enron.com\nTo: vince@enron.com\n"
                "Date: Mon, 14 May 2001 10:%02d:00 -0700\nSubject: note %d\n\n%s\n"
                % (folder, number, number % 4, number % 60, number, text), encoding="utf-8")
    return root


def test_the_ablation_rows_and_table(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "mail", {"meetings": MEETINGS, "others": OTHERS})
    (tmp_path / "mail" / "others" / "junk.bin").write_bytes(b"\x00\x01 not mail")
    out = tmp_path / "rows.json"
    assert bench_models.main(["--input", str(corpus), "--labels", "meetings=1,others=0",
                              "--groups", "headers,cues", "--fields", "subject,body",
                              "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert '"not_email": 1' in printed and "labelled 40 (16 positive)" in printed
    rows = json.loads(out.read_text())
    assert [row["name"] for row in rows] == [
        "plain script", "text", "text + headers", "text + cues", "all groups"]
    for row in rows:
        assert len(row["roc_auc"]) == len(row["pr_auc"]) == 5
        assert 0.5 < sum(row["roc_auc"]) / 5 <= 1.0
    assert "| text + cues |" in printed


def test_held_out_scores_another_corpus(tmp_path, capsys):
    train = write_corpus(tmp_path / "train", {"meetings": MEETINGS[:10], "others": OTHERS[:14]})
    test = write_corpus(tmp_path / "test", {"meetings": MEETINGS[10:], "others": OTHERS[14:]},
                        start=100)
    assert bench_models.main(["--input", str(train), "--labels", "meetings=1,others=0",
                              "--test-input", str(test), "--groups", "headers",
                              "--fields", "subject,body"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("held-out: 16 test messages (6 positive): ROC AUC ")
    assert float(line.split("ROC AUC ")[1].split(",")[0]) > 0.5
