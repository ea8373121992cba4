"""A word count used only to test the test helpers (tests/helpers.py)."""

from mrjob.job import MRJob


class MRFixtureWordCount(MRJob):
    def mapper(self, _, line):
        for word in line.split():
            yield word.lower(), 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)


if __name__ == "__main__":
    MRFixtureWordCount.run()
