"""Write the model comparison report: report.md and report.html with PNG plots.

Both documents are rendered from the same list of blocks (headings,
paragraphs, tables, images), so they say the same thing. Images are
referenced by relative names and written next to the documents:

- ``roc.png`` and ``pr.png``: ROC and precision-recall curves of every
  model, from the pooled out-of-fold scores;
- ``confusion.png``: the chosen model's confusion matrix at its threshold.

Besides the comparison, the report can show what a user acts on, each
block passed in by the caller:

- the corpus (``corpus_rows``): read / parsed / quarantined by reason /
  duplicates, labelled counts, vocabulary size;
- the most confident out-of-fold mistakes of the chosen model
  (``error_examples``): false positives and false negatives with subject,
  sender, date, score and the top contributing features of each;
- the ablation table of the feature groups (``ablation_rows``).

Plots use matplotlib's object-oriented API with the Agg canvas, so nothing
needs a display and no global backend is switched. They are drawn with the
fonts read once into memory (``fonts_in_memory``): matplotlib's FreeType
otherwise reads the font file again for nearly every glyph it draws.
"""

import contextlib
import html
import io
import os

import numpy as np

from jeeves.models.metrics import FOLD_METRICS, predict_at

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
ROC_PNG = "roc.png"
PR_PNG = "pr.png"
CONFUSION_PNG = "confusion.png"

_METRIC_TITLES = {
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "precision": "precision",
    "recall": "recall", "f1": "F1", "accuracy": "accuracy",
}
# the columns of the held-out block
HELD_OUT_METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1")


def comparison_table(summary):
    """(header, rows) of the model comparison from a Comparison.summary() dict.

    One row per model: metrics as "mean ± std" over the folds (threshold
    metrics at the model's own threshold), the threshold, and the training
    time; the chosen model's name is marked with "*".
    """
    header = ["model"] + [_METRIC_TITLES[name] for name in FOLD_METRICS] + [
        "threshold", "seconds"]
    rows = []
    for name, model in summary["models"].items():
        marker = " *" if name == summary["chosen_model"] else ""
        cells = [name + marker]
        for metric in FOLD_METRICS:
            cells.append("%.3f ± %.3f" % (model["cv"][metric]["mean"], model["cv"][metric]["std"]))
        cells += ["%.4g" % model["threshold"], "%.1f" % model["seconds"]]
        rows.append(cells)
    return header, rows


def format_table(summary):
    """The comparison table as aligned plain text (for printing on a terminal)."""
    header, rows = comparison_table(summary)
    widths = [max(len(row[column]) for row in [header] + rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def corpus_rows(counts, labels=None, vocabulary_size=None):
    """(header, rows) of the corpus block.

    `counts` is the parse stage's {"read", "parsed", "quarantined",
    "duplicates"}; "quarantined" is a count or {reason: count} (each reason
    gets a row). `labels` is jeeves.models.labels.label_records' counts.
    """
    rows = [["read", str(counts.get("read", 0))], ["parsed", str(counts.get("parsed", 0))]]
    quarantined = counts.get("quarantined", 0)
    if isinstance(quarantined, dict):
        rows.append(["quarantined", str(sum(quarantined.values()))])
        rows += [["quarantined: %s" % reason, str(count)]
                 for reason, count in sorted(quarantined.items())]
    else:
        rows.append(["quarantined", str(quarantined)])
    rows.append(["duplicates", str(counts.get("duplicates", 0))])
    for key in ("labelled", "positive", "negative", "unlabelled"):
        if labels and key in labels:
            rows.append([key, str(labels[key])])
    if vocabulary_size is not None:
        rows.append(["vocabulary size", str(vocabulary_size)])
    return ["", "messages"], rows


def error_examples(records, y, scores, threshold, explanations=None, count=10):
    """The most confident out-of-fold mistakes -> {"false_positives", "false_negatives"}.

    `records` are the labelled messages' parsed records, row for row with
    the 0/1 labels `y` and out-of-fold `scores`; a false positive scores at
    least `threshold` with label 0, a false negative below it with label 1.
    Each side lists up to `count` examples, most confident first (highest
    score for false positives, lowest for false negatives), as dicts:
    subject, sender, date, score, features (`explanations[row]`, a list of
    (feature, contribution), when given; `explanations` may also be a
    function of the row, called for the listed rows only).
    """
    y = [int(label) for label in y]
    scores = [float(score) for score in scores]

    def example(row):
        record = records[row] if isinstance(records[row], dict) else {}
        sender = record.get("from") if isinstance(record.get("from"), dict) else {}
        return {"subject": record.get("subject") or "", "sender": sender.get("address") or "",
                "date": record.get("date") or "", "score": scores[row],
                "message_id": record.get("message_id") or "",
                "features": explain(row)}

    def explain(row):
        if explanations is None:
            return []
        return list(explanations(row) if callable(explanations) else explanations[row])

    false_positives = sorted((row for row in range(len(y))
                              if y[row] == 0 and scores[row] >= threshold),
                             key=lambda row: (-scores[row], row))
    false_negatives = sorted((row for row in range(len(y))
                              if y[row] == 1 and scores[row] < threshold),
                             key=lambda row: (scores[row], row))
    return {"false_positives": [example(row) for row in false_positives[:count]],
            "false_negatives": [example(row) for row in false_negatives[:count]]}


def _example_rows(examples):
    return [[item["subject"], item["sender"], item["date"], "%.3f" % item["score"],
             ", ".join("%s (%+.3g)" % (name, value) for name, value in item["features"])]
            for item in examples]


def ablation_rows(rows):
    """(header, rows) of the ablation table: [{"name", "roc_auc", "pr_auc"}] with per-fold
    lists (tools/bench_models.py rows) -> mean ± std cells."""
    header = ["features", "ROC AUC", "PR AUC"]
    return header, [[row["name"]] + ["%.3f ± %.3f" % (np.mean(row[key]), np.std(row[key]))
                                     for key in ("roc_auc", "pr_auc")] for row in rows]


def _action_blocks(corpus, errors, ablation):
    blocks = []
    if corpus is not None:
        blocks.append(("h2", "Corpus"))
        blocks.append(("table",) + corpus_rows(**corpus))
    if ablation:
        blocks.append(("h2", "Feature groups (ablation, same folds)"))
        blocks.append(("table",) + ablation_rows(ablation))
    if errors is not None:
        header = ["subject", "sender", "date", "score", "top contributing features"]
        for key, heading in (("false_positives", "Most confident false positives"),
                             ("false_negatives", "Most confident false negatives")):
            blocks.append(("h2", heading))
            if errors[key]:
                blocks.append(("table", header, _example_rows(errors[key])))
            else:
                blocks.append(("p", "None at this threshold."))
    return blocks


def held_out_rows(comparison, test):
    """(header, rows) of the held-out block: the chosen model's CV mean ± std beside
    its figures on the test set, at the same threshold."""
    cv = comparison.chosen_result.cv
    header = ["", "messages", "positive"] + [_METRIC_TITLES[name]
                                             for name in HELD_OUT_METRICS]
    rows = [["cross-validation (out of fold)", str(len(comparison.y)),
             str(int(comparison.y.sum()))]
            + ["%.4f ± %.4f" % (cv[name]["mean"], cv[name]["std"]) for name in HELD_OUT_METRICS],
            ["held-out test set", str(test["messages"]), str(test["positives"])]
            + ["%.4f" % test[name] for name in HELD_OUT_METRICS]]
    return header, rows


def _blocks(comparison, title, notes, corpus=None, errors=None, ablation=None, test=None):
    summary = comparison.summary()
    chosen = comparison.chosen_result
    metric_title = _METRIC_TITLES[summary["select_by"]]
    blocks = [("h1", title)]
    blocks += [("p", note) for note in notes]
    blocks.append(("p", (
        "%d labelled messages, %d positive. Every model was evaluated on the same %d "
        "stratified folds (seed %d), with a grid search inside each training part. "
        "Thresholds are set on the out-of-fold scores to reach a recall of at least %.2f; "
        "precision, recall, F1 and accuracy are measured at that threshold. The model is "
        "chosen by mean %s; accuracy is reported but never used to choose."
    ) % (summary["samples"], summary["positives"], summary["n_splits"], summary["seed"],
         summary["target_recall"], metric_title)))
    blocks.append(("p", "Chosen model: %s (mean %s %.3f), threshold %.4g." % (
        summary["chosen_model"], metric_title,
        summary["models"][summary["chosen_model"]]["cv"][summary["select_by"]]["mean"],
        summary["threshold"])))
    blocks.append(("h2", "Model comparison"))
    blocks.append(("table",) + comparison_table(summary))
    if test is not None:
        blocks.append(("h2", "Held-out test set (%s at threshold %.4g)"
                       % (chosen.name, chosen.threshold)))
        blocks.append(("table",) + held_out_rows(comparison, test))
    blocks.append(("h2", "ROC and precision-recall curves"))
    blocks.append(("img", ROC_PNG, "ROC curves of all models"))
    blocks.append(("img", PR_PNG, "Precision-recall curves of all models"))
    blocks.append(("h2", "Confusion matrix of %s at threshold %.4g" % (
        chosen.name, chosen.threshold)))
    (tn, fp), (fn, tp) = chosen.confusion
    blocks.append(("table", ["", "predicted 0", "predicted 1"],
                   [["actual 0", str(tn), str(fp)], ["actual 1", str(fn), str(tp)]]))
    blocks.append(("img", CONFUSION_PNG, "Confusion matrix of the chosen model"))
    linear = [result for result in comparison.results.values() if result.top_features]
    if linear:
        blocks.append(("h2", "Top features of the linear models"))
    for result in linear:
        blocks.append(("h3", result.name))
        positive = result.top_features["positive"]
        negative = result.top_features["negative"]
        rows = []
        for index in range(max(len(positive), len(negative))):
            row = []
            for side in (positive, negative):
                row += ["%s" % side[index][0], "%.4g" % side[index][1]] \
                    if index < len(side) else ["", ""]
            rows.append(row)
        blocks.append(("table", ["positive feature", "weight", "negative feature", "weight"],
                       rows))
    return blocks + _action_blocks(corpus, errors, ablation)


def _markdown_cell(text):
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks):
    out = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + block[1])
        elif kind == "p":
            out.append(block[1])
        elif kind == "img":
            out.append("![%s](%s)" % (block[2], block[1]))
        elif kind == "table":
            header, rows = block[1], block[2]
            lines = ["| " + " | ".join(_markdown_cell(cell) for cell in header) + " |",
                     "|" + "|".join("---" for _ in header) + "|"]
            lines += ["| " + " | ".join(_markdown_cell(cell) for cell in row) + " |"
                      for row in rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def render_html(blocks, title):
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           "<title>%s</title>" % esc(title),
           "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;"
           "text-align:left}img{max-width:48em;display:block;margin:1em 0}</style>",
           "</head>", "<body>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3", "p"):
            out.append("<%s>%s</%s>" % (kind, esc(block[1]), kind))
        elif kind == "img":
            out.append('<img src="%s" alt="%s">' % (esc(block[1]), esc(block[2])))
        elif kind == "table":
            header, rows = block[1], block[2]
            out.append("<table>")
            out.append("<tr>" + "".join("<th>%s</th>" % esc(cell) for cell in header) + "</tr>")
            out += ["<tr>" + "".join("<td>%s</td>" % esc(cell) for cell in row) + "</tr>"
                    for row in rows]
            out.append("</table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


class _FontsFromMemory:
    """A stand-in for the ``matplotlib.ft2font`` module as matplotlib's
    font_manager uses it (``fonts_in_memory``): the same names, but
    ``FT2Font`` of a file's path is made from the file's bytes, read once."""

    def __init__(self, module):
        self._module = module
        self._data = {}

    def __getattr__(self, name):
        return getattr(self._module, name)

    def FT2Font(self, filename, *args, **kwargs):
        if isinstance(filename, (str, bytes, os.PathLike)):
            path = os.fspath(filename)
            if path not in self._data:
                with open(path, "rb") as handle:
                    self._data[path] = handle.read()
            # FT2Font takes a binary file object (documented): each font its own
            filename = io.BytesIO(self._data[path])
        return self._module.FT2Font(filename, *args, **kwargs)


@contextlib.contextmanager
def fonts_in_memory():
    """Draw the block's plots with each font file read once, into memory.

    matplotlib (3.x) opens a font file as a Python file object and FreeType
    reads through it what it needs as it draws: for nearly every glyph a
    seek and a buffered read of 4 KB (the glyph's outline, its metrics, the
    shaping tables), so each plot read the 740 KB DejaVuSans.ttf some 5 to
    10 MB over (about 21 MB for the report's three plots). No public API
    hands the Agg canvas a font held in memory: ``FT2Font`` accepts a binary
    file object, but the canvas gets its fonts from
    ``font_manager.get_font``, which opens paths. So, for the block only,
    font_manager's reference to the ``ft2font`` module is a stand-in whose
    ``FT2Font`` reads each path once and gives FreeType a ``BytesIO`` of it;
    font_manager's cache of the fonts it made (``_get_font``) is emptied
    before (fonts made from files) and after (fonts made from memory, which
    a PDF or PS backend could not embed). The pixels are the same: the
    same FreeType reads the same bytes. A matplotlib whose font_manager no
    longer makes its fonts that way is left alone (the plots are the same,
    the reads come back; tests/models/test_report.py says so)."""
    from matplotlib import font_manager, ft2font

    cache = getattr(font_manager, "_get_font", None)
    if (getattr(font_manager, "ft2font", None) is not ft2font
            or not hasattr(cache, "cache_clear")):
        yield False
        return
    cache.cache_clear()
    font_manager.ft2font = _FontsFromMemory(ft2font)
    try:
        yield True
    finally:
        font_manager.ft2font = ft2font
        cache.cache_clear()


def _figure(size):
    """A matplotlib Figure (Agg canvas) of ``size`` inches: matplotlib is
    imported when a plot is drawn, not with this module (about 6 MB of
    modules that `jeeves predict --explain` and the report's tables do not
    need)."""
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def plot_roc(comparison, path):
    from sklearn.metrics import auc, roc_curve

    figure = _figure((6, 5))
    axes = figure.subplots()
    for name, result in comparison.results.items():
        fpr, tpr, _ = roc_curve(comparison.y, result.oof_scores)
        axes.plot(fpr, tpr, label="%s (AUC %.3f)" % (name, auc(fpr, tpr)))
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set(xlabel="false positive rate", ylabel="true positive rate",
             title="ROC, pooled out-of-fold scores")
    axes.legend(loc="lower right", fontsize="small")
    figure.savefig(path, dpi=100)


def plot_pr(comparison, path):
    from sklearn.metrics import precision_recall_curve

    figure = _figure((6, 5))
    axes = figure.subplots()
    for name, result in comparison.results.items():
        precision, recall, _ = precision_recall_curve(comparison.y, result.oof_scores)
        axes.step(recall, precision, where="post", label=name)
    chosen = comparison.chosen_result
    y, predicted = comparison.y, predict_at(chosen.oof_scores, chosen.threshold)
    true_positives = int((predicted & y).sum())
    axes.plot([true_positives / y.sum()], [true_positives / max(predicted.sum(), 1)],
              marker="o", color="black", linestyle="none",
              label="%s at threshold %.3g" % (chosen.name, chosen.threshold))
    axes.axhline(y.mean(), linestyle=":", color="grey")
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01),
             title="Precision-recall, pooled out-of-fold scores")
    axes.legend(loc="lower left", fontsize="small")
    figure.savefig(path, dpi=100)


def plot_confusion(comparison, path):
    chosen = comparison.chosen_result
    figure = _figure((4, 3.6))
    axes = figure.subplots()
    axes.imshow(chosen.confusion, cmap="Blues")
    # light text on the dark (large) cells keeps every count readable
    dark_from = max(max(row) for row in chosen.confusion) / 2
    for actual in (0, 1):
        for predicted in (0, 1):
            count = chosen.confusion[actual][predicted]
            axes.text(predicted, actual, str(count), ha="center", va="center",
                      color="white" if count > dark_from else "black")
    axes.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual",
             title="%s, threshold %.3g" % (chosen.name, chosen.threshold))
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def write_report(comparison, directory, title="Jeeves model comparison", notes=(),
                 corpus=None, errors=None, ablation=None, test=None):
    """Write report.md, report.html and the PNG plots to `directory`; return the HTML path.

    `notes` are extra paragraphs placed under the title (e.g. the label
    spec). `corpus` is corpus_rows' keyword arguments ({"counts", "labels",
    "vocabulary_size"}), `errors` error_examples' result, `ablation` the
    ablation rows, `test` jeeves.models.run.held_out_metrics' figures on a held-out
    test set (shown next to the chosen model's CV figures); each block is
    left out when None.
    """
    os.makedirs(directory, exist_ok=True)
    with fonts_in_memory():
        plot_roc(comparison, os.path.join(directory, ROC_PNG))
        plot_pr(comparison, os.path.join(directory, PR_PNG))
        plot_confusion(comparison, os.path.join(directory, CONFUSION_PNG))
    blocks = _blocks(comparison, title, list(notes), corpus, errors, ablation, test)
    with open(os.path.join(directory, REPORT_MD), "w", encoding="utf-8") as handle:
        handle.write(render_markdown(blocks))
    html_path = os.path.join(directory, REPORT_HTML)
    with open(html_path, "w", encoding="utf-8") as handle:
        handle.write(render_html(blocks, title))
    return html_path
