"""Protocols the jobs share (they subclass mrjob's, so they live here, not in features/)."""

from mrjob.protocol import JSONProtocol


class TupleKeyJSONProtocol(JSONProtocol):
    """JSONProtocol whose JSON-array keys decode to tuples instead of lists.

    mrjob's Spark harness runs a step's combiner through ``RDD.combineByKey``
    on the *decoded* key, which must therefore be hashable: a list key fails
    with ``TypeError: unhashable type: 'list'``. A tuple encodes to the same
    JSON array, so the lines (and their sort order) are those of JSONProtocol.
    Use it as the INTERNAL_PROTOCOL of a job with list keys and a combiner.
    """

    def read(self, line):
        key, value = super().read(line)
        if isinstance(key, list):
            key = tuple(key)
        return key, value
