"""A job whose mapper fails on a line holding "boom": tests of failure reporting."""

from mrjob.job import MRJob


class MRFixtureFailing(MRJob):
    def mapper(self, _, line):
        if "boom" in line:
            raise ValueError("cannot digest %r" % line)
        yield line, 1


if __name__ == "__main__":
    MRFixtureFailing.run()
