import html.parser

import pytest

from models.report import format_table, write_report
from models.training import compare_models
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
