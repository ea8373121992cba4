from mrjob.protocol import JSONProtocol

from jeeves.jobs.protocols import EncodedJSON, PassThroughJSONProtocol, TupleKeyJSONProtocol


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


class RowsOfAKindProtocol(PassThroughJSONProtocol):
    PASS_THROUGH_KINDS = ("message",)


def test_pass_through_rows_stay_encoded_and_write_back_unchanged():
    protocol = RowsOfAKindProtocol()
    line = b'["message","m1"]\t{"meet":2,"gas":1}'
    key, value = protocol.read(line)
    assert key == ("message", "m1")
    assert isinstance(value, EncodedJSON) and value == b'{"meet":2,"gas":1}'
    assert protocol.write(key, value) == line


def test_other_rows_decode_as_tuple_key_json():
    protocol = RowsOfAKindProtocol()
    assert protocol.read(b'["terms",3]\t{"a":[1,1]}') == (("terms", 3), {"a": [1, 1]})
    assert protocol.read(b'"documents"\t4') == ("documents", 4)
    assert protocol.write(("terms", 3), {"a": [1, 1]}) == JSONProtocol().write(
        ["terms", 3], {"a": [1, 1]})
