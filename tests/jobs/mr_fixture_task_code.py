"""A job that reports where its task found the jeeves package (tests/test_taskcode.py)."""

from mrjob.job import MRJob


class MRFixtureTaskCode(MRJob):
    def mapper(self, _, line):
        import os
        import sys

        import mrjob

        import jeeves.features.text
        from jeeves.features.wordnet import load_wordnet_lemmatize, packaged_tables

        yield "module", jeeves.features.text.__file__
        yield "mrjob_module", mrjob.__file__
        yield "packaged_tables", packaged_tables() is not None
        yield "lemma", load_wordnet_lemmatize()(line.strip(), "n")
        yield "openblas_threads", os.environ.get("OPENBLAS_NUM_THREADS")
        yield "wrapped", _parent_runs("setup-wrapper.sh")
        yield "task_start", _runs("jeeves.jobs.task_start", os.getpid())
        yield "unused_modules", sorted(
            name for name in ("yaml", "urllib.request", "distutils", "setuptools")
            if name in sys.modules)
        import mrjob.compat

        # mrjob's LooseVersion: distutils.version, imported when first called
        yield "versions", mrjob.compat.version_gte("3.10", "3.9")
        distutils = sys.modules.get("distutils")
        yield "distutils", getattr(distutils, "__file__", None)


def _parent_runs(script):
    """Whether this task's parent process runs ``script`` (mrjob's setup
    wrapper runs the task as its child); None where /proc cannot tell."""
    import os

    return _runs(script, os.getppid())


def _runs(name, pid):
    """Whether process ``pid``'s command line holds ``name``; None where
    /proc cannot tell."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return name.encode() in handle.read()
    except OSError:
        return None


if __name__ == "__main__":
    MRFixtureTaskCode.run()
