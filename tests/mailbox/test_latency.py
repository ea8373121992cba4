"""The mail latency figures of `make bench` (tools/bench.py mail_latency)."""

from tests.mailbox.conftest import spam_messages
from tools.bench import LATENCY_TARGETS, format_latency, mail_latency


def test_mail_latency_measures_a_cold_predict_and_warm_messages(spam_bundle, tmp_path):
    mbox = tmp_path / "sample.mbox"
    mbox.write_bytes(b"".join(b"From x Mon Oct  1 09:00:00 2001\n" + raw.replace(b"\r\n", b"\n")
                              + b"\n" for raw in spam_messages(4, skip=160)))
    figures = mail_latency(spam_bundle, [str(mbox)], repeats=1, warm_messages=3, warm_up=1)
    assert figures["warm_messages"] == 3 and figures["repeats"] == 1
    assert figures["predict_cold_s"] > 0 and figures["predict_cold_cpu_s"] > 0
    assert 0 < figures["watch_warm_ms"] <= max(figures["watch_warm_mean_ms"] * 3, 1e-9)
    table = format_latency(figures)
    assert "< %.1f s" % LATENCY_TARGETS["predict_cold_s"] in table
    assert "< %.0f ms" % LATENCY_TARGETS["watch_warm_ms"] in table
