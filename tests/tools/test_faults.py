"""tools/faults.py's reading of a job's history events into attempts."""

from tools import faults


def event(kind, attempt, time_field, when, task_type="MAP", **fields):
    kind_letter = "m" if task_type == "MAP" else "r"
    task = "task_1_0001_%s_000000" % kind_letter
    return kind, dict({"attemptId": "attempt_1_0001_%s_000000_%d" % (kind_letter, attempt),
                       "taskid": task, "taskType": task_type, time_field: when}, **fields)


def test_retried_speculative_and_never_started_attempts():
    events = [
        ("AM_STARTED", {"startTime": 1}),
        event("MAP_ATTEMPT_STARTED", 0, "startTime", 10),
        # a speculative attempt while the first runs; it wins
        event("MAP_ATTEMPT_STARTED", 1, "startTime", 20),
        event("MAP_ATTEMPT_FINISHED", 1, "finishTime", 30, taskStatus="SUCCEEDED"),
        event("MAP_ATTEMPT_KILLED", 0, "finishTime", 31, status="KILLED"),
        # a third, killed before it ever started: no start event
        event("MAP_ATTEMPT_KILLED", 2, "finishTime", 32, status="KILLED"),
        # a reduce attempt that failed and its retry, after it
        event("REDUCE_ATTEMPT_STARTED", 0, "startTime", 40, task_type="REDUCE"),
        event("REDUCE_ATTEMPT_FAILED", 0, "finishTime", 45, task_type="REDUCE",
              status="FAILED", error="killed\\nmore"),
        event("REDUCE_ATTEMPT_STARTED", 1, "startTime", 46, task_type="REDUCE"),
        event("REDUCE_ATTEMPT_FINISHED", 1, "finishTime", 50, task_type="REDUCE",
              taskStatus="SUCCEEDED"),
    ]
    attempts = faults.job_attempts(events)
    summary = [(attempt["attempt"][-3:], attempt["state"], attempt["speculative"])
               for attempt in attempts]
    assert summary == [("0_0", "KILLED", False), ("0_1", "SUCCEEDED", True),
                       ("0_0", "FAILED", False), ("0_1", "SUCCEEDED", False),
                       ("0_2", "KILLED", False)]
    assert [attempt["type"] for attempt in attempts] == ["MAP", "MAP", "REDUCE", "REDUCE", "MAP"]
