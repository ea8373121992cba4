"""The measurement behind ``--scorer``'s default (docs/models.md, "Batch or online").

Replays (jeeves.models.replay, the TREC protocol) a corpus in delivery order
with each feedback mode, for the batch email model refitted every EVERY
messages and for the online model fed the parsed records (what `jeeves
learn`, `serve` and `watch` give it) or the raw bytes (what `jeeves replay`
gives it), and prints one (1-ROCA)% line per run:

    .venv/bin/python -m tools.scorer_choice meeting [EVERY]  # Berkeley Enron, cats:1,4
    .venv/bin/python -m tools.scorer_choice spam [EVERY]     # SpamAssassin: 600 messages

EVERY (default 200) is how many messages pass between two refits of the batch model.
"""

import dataclasses
import glob
import os
import sys
import time

from jeeves.cmd_replay import batch_analyzer_config
from jeeves.models import replay
from jeeves.models.labels import labeller_from_spec

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
CORPORA = {
    "meeting": (lambda: [os.path.join(DATA, "enron-berkeley")], "cats:1,4"),
    "spam": (lambda: sorted(glob.glob(os.path.join(DATA, "spamassassin", "spam-1", "*")))[:150]
             + sorted(glob.glob(os.path.join(DATA, "spamassassin", "easy-ham-1", "*")))[:450],
             "spam*=1,*ham*=0"),
}
EVERY = 200
FEEDBACK = (("immediate", 0), ("delayed", 100))


def main(argv):
    name = argv[0] if argv else "meeting"
    every = int(argv[1]) if len(argv) > 1 else EVERY
    paths, spec = CORPORA[name]
    ordered, _ = replay.read_periods([paths()], labeller_from_spec(spec))
    as_records = [dataclasses.replace(message, raw=None) for message in ordered]
    for feedback in FEEDBACK:
        for label, messages, model in (
                ("batch:%d" % every, ordered, ("batch", every)),
                ("online (records)", as_records, ("online", None)),
                ("online (raw bytes)", ordered, ("online", None))):
            started = time.time()
            result = replay.replay(messages, feedback, model,
                                   analyzer_config=batch_analyzer_config())
            measure = replay.summary_of(result, {})["one_minus_roca_percent"]
            print("%s %d messages, feedback %s:%d, %s: (1-ROCA)%% = %.2f [%.2f, %.2f] (%.0f s)"
                  % (name, len(messages), feedback[0], feedback[1], label, measure["value"],
                     measure["low"], measure["high"], time.time() - started), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
