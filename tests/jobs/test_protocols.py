from mrjob.protocol import JSONProtocol

from jobs.protocols import TupleKeyJSONProtocol


def test_array_keys_decode_to_hashable_tuples():
    key, value = TupleKeyJSONProtocol().read(b'["term", "enron"]\t[3, 2]')
    assert key == ("term", "enron")
    assert hash(key) == hash(("term", "enron"))
    assert value == [3, 2]  # values stay as JSONProtocol decodes them


def test_lines_are_those_of_json_protocol():
    line = JSONProtocol().write(["pair", "a@x", "b@x"], {"n": 1})
    protocol = TupleKeyJSONProtocol()
    key, value = protocol.read(line)
    assert protocol.write(key, value) == line


def test_other_keys_are_unchanged():
    protocol = TupleKeyJSONProtocol()
    assert protocol.read(b'"documents"\t4') == ("documents", 4)
    assert protocol.read(b'null\t{"a": [1]}') == (None, {"a": [1]})
