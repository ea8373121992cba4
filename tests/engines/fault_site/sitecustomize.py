"""Test-side fault injection for tests/engines/test_faults_hadoop.py, loaded by
the tasks' Python only when a test puts this directory on their PYTHONPATH
(mrjob's ``cmdenv``) and names a fault directory in ``JEEVES_FAULT_DIR``.

The first attempt (``_0``) of the first map and of the first reduce task
then lingers at exit: once the job's code has run, written its output and
reported its counters, the process writes ``JEEVES_FAULT_DIR/<attempt id>``
and sleeps instead of exiting, so a test can SIGKILL it (tools/faults.py)
at the worst moment: work done, output and counters sent, exit status not
yet seen. No product code knows of it. Every other attempt runs as usual.
"""

import os

_ATTEMPT = os.environ.get("mapreduce_task_attempt_id", "")
_FAULT_DIR = os.environ.get("JEEVES_FAULT_DIR")

if _FAULT_DIR and _ATTEMPT.endswith(("_m_000000_0", "_r_000000_0")):
    import atexit
    import sys
    import time

    def _linger():
        sys.stdout.flush()
        sys.stderr.flush()
        # written whole, then named: a test polling the directory never
        # reads the file before its pid is in it
        partial = os.path.join(_FAULT_DIR, "." + _ATTEMPT)
        with open(partial, "w", encoding="ascii") as handle:
            handle.write("%d\n" % os.getpid())
        os.replace(partial, os.path.join(_FAULT_DIR, _ATTEMPT))
        time.sleep(float(os.environ.get("JEEVES_FAULT_LINGER_SECONDS", "120")))

    # registered first, so it runs last: after mrjob's own exit handlers
    atexit.register(_linger)
