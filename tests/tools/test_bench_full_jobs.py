"""tools/bench_full.py's per-job seconds: each Hadoop job's fixed seconds
(its wall time less one wave of its tasks) in the report, from the jobs and
step counters that tools/driver_io.py records."""

from tools import bench_full, driver_io


def report_jobs():
    return [{"job": "MRParseEmails", "seconds": 41.26, "task_seconds": 12.04,
             "task_wave_seconds": 6.02},
            {"job": "MRCountNgrams", "seconds": 30.0, "task_seconds": 9.5,
             "task_wave_seconds": 9.5}]


def test_a_wave_is_each_phases_task_time_over_its_tasks_per_step():
    group = "Job Counters "
    steps = [{group: {"Total time spent by all map tasks (ms)": 8000, "Launched map tasks": 4,
                      "Total time spent by all reduce tasks (ms)": 3000,
                      "Launched reduce tasks": 2}},
             {"Job Counters": {"Total time spent by all map tasks (ms)": 1000,
                               "Launched map tasks": 1}},
             {}]
    assert driver_io.task_times(steps) == (12.0, 2.0 + 1.5 + 1.0)


def test_fixed_seconds_are_wall_less_a_wave_on_hadoop_only():
    assert bench_full.job_times(report_jobs(), "hadoop") == [
        {"job": "MRParseEmails", "seconds": 41.3, "task_seconds": 12.0, "wave_seconds": 6.0,
         "fixed_seconds": 35.2},
        {"job": "MRCountNgrams", "seconds": 30.0, "task_seconds": 9.5, "wave_seconds": 9.5,
         "fixed_seconds": 20.5}]
    assert "fixed_seconds" not in bench_full.job_times(report_jobs(), "local")[0]


def test_the_report_has_a_table_of_the_hadoop_jobs():
    run = {"messages": 10, "seconds": 80.0, "task_peak_rss_mb": 50.0,
           "driver_peak_rss_mb": 200.0, "driver_mb": 12.5,
           "jobs": bench_full.job_times(report_jobs(), "hadoop")}
    results = {"sizes": {"110": {"mbox_mb": 110.0, "files": 3, "runs": {"hadoop": run}}},
               "runners": ["hadoop"]}
    text = bench_full.format_report(results)
    assert "| MRParseEmails | 41.3 | 12.0 | 6.0 | 35.2 |" in text
    assert "| 2 jobs | 71.3 | 21.5 | 15.5 | 55.7 (mean 27.9) |" in text
    assert "| 12.5 |" in text.splitlines()[2]


def test_the_report_gives_hadoop_over_local_where_both_ran():
    def run(seconds):
        return {"messages": 10, "seconds": seconds, "task_peak_rss_mb": 50.0,
                "driver_peak_rss_mb": 200.0}

    results = {"sizes": {"440": {"mbox_mb": 440.0, "files": 3,
                                 "runs": {"local": run(250.0), "hadoop": run(400.0)}},
                         "110": {"mbox_mb": 110.0, "files": 1, "runs": {"local": run(80.0)}}},
               "runners": ["local", "hadoop"]}
    assert bench_full.runner_ratios(results) == {"440": 1.6}
    assert "440.0 MB: hadoop/local time x1.6 (target: within 2)" in \
        bench_full.format_report(results)
