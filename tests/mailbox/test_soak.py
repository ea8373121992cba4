"""The soak of `jeeves watch` and `jeeves serve` (tools/soak.py, issue #27) at 2,000
messages: ten APPEND batches to a Dovecot of its own, three restarts of that
server and one connection cut by the relay in between; the daemon gets each
message over a connection of its own, and one request cut in half; memory and
descriptors of both read from /proc. `make soak` runs the same code on 20,000
messages."""

from tools.soak import SoakSettings, format_result, run_soak

# with --tag: a connection lost between a notification and its tag must not notify twice
SETTINGS = SoakSettings(messages=2000, batch=200, restarts=3, drops=1, baseline=1000,
                        tag="JeevesSoak")


def test_soak_loses_and_doubles_nothing_and_does_not_grow(mailserver, spam_bundle):
    # mailserver: the suite's Dovecot checks (it skips where Dovecot cannot run);
    # the soak starts a server of its own, which it restarts
    result = run_soak(SETTINGS, bundle=spam_bundle, log=lambda line: None)
    print(format_result(result))  # the figures, for the record (pytest -s)
    checks = result["checks"]

    assert checks["scored_exactly_once"]["ok"], checks["scored_exactly_once"]
    assert checks["scored_exactly_once"]["log_lines"] == SETTINGS.messages
    notified = checks["notified_exactly_once"]
    assert notified["ok"], notified
    # the bundle flags some of the messages and not the rest, so both cases are met
    assert 0 < notified["expected"] < SETTINGS.messages
    assert notified["notifications"] == notified["expected"]
    assert checks["tagged_as_flagged"]["ok"], checks["tagged_as_flagged"]
    assert checks["faults_met"]["ok"], checks["faults_met"]
    assert [fault["kind"] for fault in result["faults"]].count("restart") == 3
    assert [fault["kind"] for fault in result["faults"]].count("drop") == 1
    assert [sample["messages"] for sample in result["samples"]] == list(range(200, 2001, 200))
    assert checks["rss_within_tolerance"]["ok"], checks["rss_within_tolerance"]
    assert checks["rss_within_tolerance"]["baseline_messages"] == 1000
    assert checks["fds_constant"]["ok"], checks["fds_constant"]

    answered = checks["serve_answered_exactly_once"]
    assert answered["ok"], answered
    assert answered["answered"] == SETTINGS.messages
    assert answered["flagged"] == notified["expected"]
    assert checks["serve_cut_requests_refused"]["ok"], checks["serve_cut_requests_refused"]
    assert checks["serve_rss_within_tolerance"]["ok"], checks["serve_rss_within_tolerance"]
    assert checks["serve_fds_constant"]["ok"], checks["serve_fds_constant"]
    assert all(check["ok"] for check in checks.values())
