"""jeeves.jobs.task_start: a job script run as `python SCRIPT` runs it, with
mrjob.job imported without yaml, urllib.request and distutils."""

import json
import os
import subprocess
import sys
import textwrap

# the script reports what it sees, then does what its first argument says
SCRIPT = textwrap.dedent('''
    import json, sys
    seen = {
        "name": __name__,
        "argv": sys.argv,
        "path0": sys.path[0],
        "loaded": sorted(n for n in ("yaml", "urllib.request", "mrjob.job", "distutils",
                                     "distutils.spawn", "distutils.version", "setuptools")
                         if n in sys.modules),
    }
    import mrjob.compat
    # LooseVersion, imported when first called
    seen["versions"] = [mrjob.compat.version_gte("3.10.1", "3.9"),
                        mrjob.compat.map_version("2.8", {"1.0": "a", "2.0": "b", "3.0": "c"})]
    import distutils.version
    seen["real_version"] = sys.modules["distutils.version"] is distutils.version and \
        isinstance(distutils.version.LooseVersion("1.2"), distutils.version.LooseVersion)
    import mrjob.conf, mrjob.py2
    seen["conf_yaml"] = mrjob.conf.yaml is not None
    seen["pathname2url"] = mrjob.py2.pathname2url("/a b")
    import yaml, urllib.request
    seen["yaml"] = yaml.safe_load("a: 1")
    seen["real_request"] = hasattr(urllib.request, "Request") and \\
        sys.modules["urllib.request"] is urllib.request
    print(json.dumps(seen))
    if sys.argv[1] == "raise":
        raise RuntimeError("the job failed")
    if sys.argv[1] == "exit":
        sys.exit(3)
''')


def start(tmp_path, *args):
    script = tmp_path / "mr_fixture.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, "-m", "jeeves.jobs.task_start", "mr_fixture.py", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_the_script_runs_as_main_with_its_arguments(tmp_path):
    done = start(tmp_path, "ok", "--step-num=0")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["name"] == "__main__"
    assert seen["argv"] == ["mr_fixture.py", "ok", "--step-num=0"]
    assert seen["path0"] == str(tmp_path)
    # mrjob.job was imported first, and none of the modules it was kept from
    assert seen["loaded"] == ["mrjob.job"]
    assert seen["versions"] == [True, "b"] and seen["real_version"] is True
    assert seen["conf_yaml"] is False
    # the stand-in's function calls the real one; later imports get the real modules
    assert seen["pathname2url"] == "/a%20b"
    assert seen["yaml"] == {"a": 1} and seen["real_request"] is True


def test_a_failing_script_fails_the_task(tmp_path):
    raised = start(tmp_path, "raise")
    assert raised.returncode == 1 and "RuntimeError: the job failed" in raised.stderr
    assert start(tmp_path, "exit").returncode == 3


def test_without_a_script_it_says_how_to_use_it():
    done = subprocess.run([sys.executable, "-m", "jeeves.jobs.task_start"],
                          capture_output=True, text=True, timeout=120, cwd=os.getcwd())
    assert done.returncode == 1 and done.stderr.startswith("usage:")
