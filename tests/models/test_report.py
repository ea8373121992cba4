import html.parser
import os
import shutil
import subprocess
import sys

import pytest

from jeeves.models.report import (
    CONFUSION_PNG,
    PR_PNG,
    ROC_PNG,
    corpus_rows,
    error_examples,
    format_table,
    plot_confusion,
    plot_pr,
    plot_roc,
    write_report,
)
from jeeves.models.training import compare_models
from tests.models.corpus import tfidf_corpus

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODELS = ["logistic_regression", "complement_nb", "bernoulli_nb"]


@pytest.fixture(scope="module")
def comparison():
    X, y, names, _ = tfidf_corpus()
    # feature names that need escaping in both HTML and Markdown
    names = ["<b>%s|</b>" % name for name in names]
    return compare_models(X, y, models=MODELS, n_splits=4, feature_names=names)


@pytest.fixture(scope="module")
def report_dir(comparison, tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    write_report(comparison, str(directory), title="Meetings & <others>",
                 notes=["labels: cats:1,4"])
    return directory


def test_report_writes_documents_and_png_plots(report_dir):
    for name in ("report.md", "report.html"):
        assert (report_dir / name).stat().st_size > 0
    for name in ("roc.png", "pr.png", "confusion.png"):
        assert (report_dir / name).read_bytes().startswith(PNG_MAGIC)


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.text, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def test_html_references_images_relatively_and_escapes_text(report_dir):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    parsed = _Collector()
    parsed.feed(page)
    assert sorted(parsed.images) == ["confusion.png", "pr.png", "roc.png"]
    text = "".join(parsed.text)
    # the odd feature name and the title come back as text, not markup
    assert "|</b>" in text
    assert "Meetings & <others>" in text
    assert "b" not in parsed.tags
    assert "labels: cats:1,4" in text


def test_markdown_and_html_list_every_model_and_the_choice(comparison, report_dir):
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    for name in MODELS:
        assert name in markdown and name in page
    assert "Chosen model: %s" % comparison.chosen in markdown
    assert "Chosen model: %s" % comparison.chosen in page
    for image in ("roc.png", "pr.png", "confusion.png"):
        assert "](%s)" % image in markdown


def test_markdown_tables_escape_pipes(report_dir):
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "\\|</b>" in markdown
    assert "|</b>" not in markdown.replace("\\|</b>", "")
    header_line = next(line for line in markdown.splitlines() if line.startswith("| model"))
    rows = [line for line in markdown.splitlines() if line.startswith("| ")
            and line.count(" | ") == header_line.count(" | ")]
    assert len(rows) >= len(MODELS) + 1


def test_confusion_counts_in_the_report_match_the_chosen_model(comparison, report_dir):
    (tn, fp), (fn, tp) = comparison.chosen_result.confusion
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "| actual 0 | %d | %d |" % (tn, fp) in markdown
    assert "| actual 1 | %d | %d |" % (fn, tp) in markdown


def test_plain_text_table_has_a_row_per_model_and_marks_the_choice(comparison):
    table = format_table(comparison.summary()).splitlines()
    assert table[0].split()[:3] == ["model", "ROC", "AUC"]
    assert len(table) == 2 + len(MODELS)
    marked = [line for line in table if line.split()[0] == comparison.chosen]
    assert marked and marked[0].split()[1] == "*"


def test_error_examples_are_the_most_confident_mistakes():
    records = [{"subject": "s%d" % row, "from": {"address": "a%d@x" % row, "name": ""},
                "date": "2001-05-0%dT10:00:00+00:00" % (row + 1), "message_id": "m%d" % row}
               for row in range(6)]
    y = [0, 0, 0, 1, 1, 1]
    scores = [0.9, 0.6, 0.1, 0.2, 0.05, 0.8]
    explanations = [[("f%d" % row, 0.5)] for row in range(6)]
    errors = error_examples(records, y, scores, threshold=0.5, explanations=explanations,
                            count=5)
    assert [item["subject"] for item in errors["false_positives"]] == ["s0", "s1"]
    assert [item["subject"] for item in errors["false_negatives"]] == ["s4", "s3"]
    first = errors["false_positives"][0]
    assert (first["sender"], first["score"], first["features"]) == ("a0@x", 0.9, [("f0", 0.5)])
    assert len(error_examples(records, y, scores, 0.5, count=1)["false_negatives"]) == 1


def test_corpus_rows_list_quarantine_reasons():
    _, rows = corpus_rows({"read": 10, "parsed": 7, "quarantined": {"not_email": 2, "bad": 1},
                           "duplicates": 0},
                          labels={"labelled": 7, "positive": 3, "negative": 4,
                                  "unlabelled": 0}, vocabulary_size=1234)
    assert ["quarantined", "3"] in rows and ["quarantined: not_email", "2"] in rows
    assert ["positive", "3"] in rows and ["vocabulary size", "1234"] in rows


ABLATION = [{"name": "plain script", "roc_auc": [0.8, 0.9], "pr_auc": [0.7, 0.7]},
            {"name": "text + <cues>", "roc_auc": [0.9, 0.9], "pr_auc": [0.8, 0.9]}]
ERROR_SUBJECT = "Lunch & <the> budget?"


@pytest.fixture(scope="module")
def action_report_dir(comparison, tmp_path_factory):
    directory = tmp_path_factory.mktemp("action-report")
    records = [{"subject": ERROR_SUBJECT if row == 0 else "s%d" % row,
                "from": {"address": "kay@enron.com"}, "date": "2001-05-14T10:00:00+00:00"}
               for row in range(len(comparison.y))]
    result = comparison.chosen_result
    # every message as a mistake: a threshold no score reaches on one side
    errors = error_examples(records, 1 - comparison.y, result.oof_scores, threshold=-1.0,
                            explanations=[[("meet", 0.25)]] * len(records), count=3)
    write_report(comparison, str(directory), title="Actionable",
                 corpus={"counts": {"read": 50, "parsed": 40, "quarantined": {"not_email": 9},
                                    "duplicates": 1},
                         "labels": {"labelled": 40, "positive": 16}, "vocabulary_size": 321},
                 errors=errors, ablation=ABLATION)
    return directory


def test_the_report_shows_corpus_mistakes_and_ablation(action_report_dir):
    markdown = (action_report_dir / "report.md").read_text(encoding="utf-8")
    for heading in ("## Corpus", "## Most confident false positives",
                    "## Most confident false negatives", "## Feature groups (ablation"):
        assert heading in markdown
    assert "| quarantined: not_email | 9 |" in markdown
    assert "| vocabulary size | 321 |" in markdown
    assert "| text + <cues> | 0.900 ± 0.000 | 0.850 ± 0.050 |" in markdown
    assert "meet (+0.25)" in markdown
    page = (action_report_dir / "report.html").read_text(encoding="utf-8")
    assert "Lunch &amp; &lt;the&gt; budget?" in page


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(tmp_path, *args):
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run",
               "--user-data-dir=%s" % (tmp_path / "profile")] + list(args)
    return subprocess.run(command, capture_output=True, timeout=120, check=True)


def test_the_html_report_renders_in_a_real_browser(action_report_dir, tmp_path):
    if chromium() is None:
        pytest.skip("chromium not installed (the Makefile's setup installs it with apt-get)")
    page = (action_report_dir / "report.html").as_uri()
    dom = run_chromium(tmp_path, "--dump-dom", page).stdout.decode("utf-8")
    parsed = _Collector()
    parsed.feed(dom)
    text = "".join(parsed.text)
    assert ERROR_SUBJECT in text
    assert "Most confident false negatives" in text and "vocabulary size" in text
    assert sorted(parsed.images) == ["confusion.png", "pr.png", "roc.png"]
    screenshot = tmp_path / "report.png"
    run_chromium(tmp_path, "--screenshot=%s" % screenshot, "--window-size=1200,3000", page)
    assert screenshot.read_bytes().startswith(PNG_MAGIC)


def _thread_rchar():
    with open("/proc/thread-self/io", encoding="ascii") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("rchar:"))


def test_the_plots_read_each_font_once_and_draw_the_same_pixels(comparison, tmp_path):
    if not os.path.exists("/proc/thread-self/io"):
        pytest.skip("no /proc/thread-self/io: it counts the bytes this thread reads")
    plain = tmp_path / "plain"
    plain.mkdir()
    # matplotlib's own way first (its font files read as it draws); this also
    # imports what the first drawing imports, which the count below leaves out
    for plot, name in ((plot_roc, ROC_PNG), (plot_pr, PR_PNG), (plot_confusion, CONFUSION_PNG)):
        plot(comparison, str(plain / name))
    before = _thread_rchar()
    write_report(comparison, str(tmp_path / "report"))
    read = _thread_rchar() - before
    for name in (ROC_PNG, PR_PNG, CONFUSION_PNG):
        assert (tmp_path / "report" / name).read_bytes() == (plain / name).read_bytes(), name
    # the fonts once (DejaVu Sans 757 KB, the fallback font 41 KB) and little else; the
    # font read again for nearly every glyph was about 20 MB for the three plots
    assert read < 2 * 1024 * 1024, read


def test_matplotlib_is_imported_to_draw_not_with_the_models():
    # `jeeves predict --explain` on a full bundle imports jeeves.models.run, not a plot
    code = "import sys, jeeves.models.run; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False", done.stdout
