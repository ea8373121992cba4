"""Nested cross-validation of the registry models, one fit per task line.

Input: task lines written by ``jeeves.models.cluster.task_lines``, one JSON object
each: ``{"model", "params_index", "params", "outer", "inner"}``, plus the
data file (``--cv-data``, an .npz from ``jeeves.models.cluster.write_cv_data``
holding X, y and the shared outer and inner folds).

Output: one JSON value per (model, outer fold): the parameters GridSearchCV
would choose on that outer training part (``params``, ``params_index``,
``best_score``, the mean inner score of every candidate in
``candidate_scores``) and the held-out scores of the refitted best candidate
(``test_indices``, ``test_scores``). ``jeeves.pipeline.cluster_cv.compare_on_cluster``
turns them into the same Comparison as ``jeeves.models.training.compare_models``.

The ``jeeves.models`` package reaches the tasks in the code zip the driver
gives every job (jeeves.taskcode): the registry and the fitting functions
are the driver's own, not a copy. The last step writes each value as its
whole line (``keyonlytext`` on Hadoop: no tab after it), the same bytes on
every runner (tests/engines/test_cluster_cv_engines.py).
"""

import json
import math

from mrjob.job import MRJob
from mrjob.protocol import StandardJSONProtocol, StandardJSONValueProtocol
from mrjob.step import MRStep

from jeeves.jobs import CountedJob, whole_line_reducer_jobconf
from jeeves.models.cluster import (
    best_candidate,
    fit_and_score,
    load_cv_data,
    mean_score,
    refit_and_score,
)
from jeeves.models.metrics import SEED, SELECT_BY
from jeeves.models.registry import REGISTRY
from jeeves.settings import add_settings

COUNTER_GROUP = "cross_validate"


class MRCrossValidate(CountedJob, MRJob):
    # the stdlib JSON keeps every float exact between steps, so the means
    # and their ties are the ones GridSearchCV computes
    INTERNAL_PROTOCOL = StandardJSONProtocol
    OUTPUT_PROTOCOL = StandardJSONValueProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg(
            "--cv-data", required=True,
            help="the .npz of X, y and the shared folds (jeeves.models.cluster.write_cv_data)")
        add_settings(self.add_passthru_arg, (SELECT_BY, SEED))

    def steps(self):
        return [
            MRStep(mapper_init=self.load_data, mapper=self.mapper_fit_candidate,
                   reducer=self.reducer_average_inner_folds),
            # values without keys: written as they are on Hadoop (no tab after them)
            MRStep(reducer_init=self.load_data, reducer=self.reducer_choose_and_refit,
                   jobconf=whole_line_reducer_jobconf(self.options.runner)),
        ]

    def load_data(self):
        """Load X, y and the folds once per task."""
        self.data = load_cv_data(self.options.cv_data)

    def mapper_fit_candidate(self, _, line):
        """Task line -> ([model, outer, params_index], [inner, score, params]).

        A fit that fails scores NaN (GridSearchCV's error_score) and is counted.
        """
        try:
            task = json.loads(line)
            name, params = task["model"], task["params"]
            outer, inner, index = int(task["outer"]), int(task["inner"]), int(task["params_index"])
        except (ValueError, KeyError, TypeError):
            self.increment_counter(COUNTER_GROUP, "bad task line")
            return
        if name not in REGISTRY:
            self.increment_counter(COUNTER_GROUP, "unknown model")
            return
        try:
            score = fit_and_score(self.data, name, params, outer, inner,
                                  self.options.select_by, self.options.seed)
        except Exception:
            self.increment_counter(COUNTER_GROUP, "failed fit")
            score = math.nan
        self.increment_counter(COUNTER_GROUP, "fits")
        yield [name, outer, index], [inner, score, params]

    def reducer_average_inner_folds(self, key, values):
        """[model, outer, params_index], [[inner, score, params]]
        -> [model, outer], [params_index, mean inner score, params]."""
        name, outer, index = key
        values = list(values)
        yield [name, outer], [index, mean_score([(inner, score) for inner, score, _ in values]),
                              values[0][2]]

    def reducer_choose_and_refit(self, key, candidates):
        """[model, outer], [[index, mean, params]] -> {model, outer, params, ..., test_scores}."""
        name, outer = key
        candidates = list(candidates)
        index, best_score, params = best_candidate(candidates)
        test, scores = refit_and_score(self.data, name, params, outer, self.options.seed)
        self.increment_counter(COUNTER_GROUP, "outer refits")
        yield None, {
            "model": name, "outer": outer, "params": params, "params_index": index,
            "best_score": best_score,
            "candidate_scores": [mean for _, mean, _ in sorted(candidates, key=_index)],
            "test_indices": [int(i) for i in test],
            "test_scores": [float(score) for score in scores],
        }


def _index(candidate):
    return candidate[0]


if __name__ == "__main__":
    MRCrossValidate.run()
