"""features/mbox_ranges.py: the ranges of a split mbox give the whole-file parse."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jeeves.features.mailformats import iter_found, split_mbox
from jeeves.features.mbox_ranges import (
    found_in_range,
    holds_several_messages,
    messages_in_range,
    next_boundary,
    ranges_of,
)

URI = "file:///mail/inbox.mbox"
RELPATH = "mail/inbox.mbox"
SEPARATOR = b"From alice@example.com Mon Jan  1 10:00:00 2001\n"


def reader(data, reads=None):
    def read(offset, length):
        if reads is not None:
            reads.append((offset, length))
        return data[offset:offset + length]
    return read


def message(number, body=b"body\n"):
    return (SEPARATOR + b"Message-ID: <m%d@example.com>\nSubject: s%d\n\n" % (number, number)
            + body + b"\n")


def split_parse(data, split_size, scan_bytes=16):
    """(offset, message) pairs of every range, in range order."""
    read = reader(data)
    return [pair for start, end in ranges_of(len(data), split_size)
            for pair in messages_in_range(read, start, end, len(data), scan_bytes)]


def assert_same_as_whole(data, split_size, scan_bytes=16):
    assert split_parse(data, split_size, scan_bytes) == list(split_mbox(data))


MBOX = b"".join(message(number) for number in range(5))


def test_ranges_cover_the_file_without_overlap():
    assert ranges_of(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert ranges_of(0, 4) == []
    with pytest.raises(ValueError, match="not 0"):
        ranges_of(10, 0)


@pytest.mark.parametrize("split_size", [1, 2, 7, len(SEPARATOR), len(SEPARATOR) + 1, 64,
                                        len(MBOX) - 1, len(MBOX), len(MBOX) + 1])
def test_every_split_size_gives_the_whole_file_parse(split_size):
    assert_same_as_whole(MBOX, split_size)


def test_a_message_straddling_a_boundary_belongs_to_the_range_of_its_separator():
    second = len(message(0))
    read = reader(MBOX)
    [(offset, raw)] = list(messages_in_range(read, second - 3, second + 3, len(MBOX)))
    assert offset == second and raw.startswith(b"Message-ID: <m1@")
    assert list(messages_in_range(read, second + 1, second + 4, len(MBOX))) == []


def test_a_boundary_inside_an_escaped_from_line_is_no_separator():
    escaped = b">From alice@example.com Mon Jan  1 10:00:00 2001\n"
    data = message(0, b"quoted:\n" + escaped + b"end\n") + message(1)
    cut = data.index(escaped) + 1  # the range starts at 'From ...' after '>'
    assert next_boundary(reader(data), cut, len(data)) == len(message(0, b"quoted:\n" + escaped
                                                                     + b"end\n"))
    for split_size in range(1, len(data) + 1):
        assert_same_as_whole(data, split_size)
    [first, _] = split_parse(data, cut)
    assert escaped[1:] in first[1]  # unescaped, once


def test_crlf_files():
    data = MBOX.replace(b"\n", b"\r\n")
    for split_size in (1, 5, 49, 50, 51, 100):
        assert_same_as_whole(data, split_size)
    assert len(split_parse(data, 50)) == 5


def test_a_first_range_without_a_separator_and_a_range_without_any():
    long_body = b"line of a long first message\n" * 200
    data = b"From nobody\n" + b"Subject: no date on the From line\n\n" + long_body + MBOX
    read = reader(data)
    # offset 0 starts a message even without a dated separator line
    assert list(messages_in_range(read, 0, 100, len(data)))[0][0] == 0
    # a range in the middle of the long message holds no boundary
    assert list(messages_in_range(read, 1000, 2000, len(data))) == []
    for split_size in (100, 1000, 4000):
        assert_same_as_whole(data, split_size)


def test_a_file_that_does_not_start_with_a_separator_line():
    data = b"From x\n\nbody\n" + MBOX  # the first separator is not at 0
    assert next_boundary(reader(data), 1, len(data)) == len(b"From x\n\nbody\n")
    assert_same_as_whole(data, 10)


def test_a_separator_line_longer_than_a_read():
    long_separator = b"From " + b"x" * 500 + b" Mon Jan  1 10:00:00 2001\n"
    data = message(0) + long_separator + b"Subject: long\n\nbody\n"
    assert_same_as_whole(data, 30, scan_bytes=7)


def test_a_range_reads_its_bytes_and_one_message_not_the_file():
    data = b"".join(message(number, b"text\n" * 50) for number in range(40))
    reads = []
    read = reader(data, reads)
    start, end = len(data) // 2, len(data) // 2 + 600
    list(messages_in_range(read, start, end, len(data), scan_bytes=256))
    one_message = len(message(0, b"text\n" * 50))
    assert sum(length for _, length in reads) < 3 * (end - start) + 2 * one_message


def test_found_items_equal_the_whole_file_parse_index_and_folder_included():
    whole = list(iter_found(MBOX, URI, RELPATH))
    read = reader(MBOX)
    several = holds_several_messages(read, len(MBOX))
    ranged = [found for start, end in ranges_of(len(MBOX), 40)
              for found in found_in_range(read, URI, RELPATH, start, end, len(MBOX), several)]
    assert ranged == whole
    assert [found.index for found in whole] == [found.offset for found in whole]
    assert whole[0].folder == ["mail", "inbox"]


def test_a_one_message_file_is_no_folder_split_or_not():
    data = message(0, b"x\n" * 100)
    read = reader(data)
    assert not holds_several_messages(read, len(data))
    whole = list(iter_found(data, "file:///spam/0001", "spam/0001"))
    ranged = [found for start, end in ranges_of(len(data), 50)
              for found in found_in_range(read, "file:///spam/0001", "spam/0001", start, end,
                                          len(data), False)]
    assert ranged == whole and whole[0].folder == ["spam"]


LINES = st.sampled_from([
    SEPARATOR,
    b"From bob@example.com Tue Feb  2 23:59:59 2002\r\n",
    b"From no date here\n",
    b">From alice@example.com Mon Jan  1 10:00:00 2001\n",
    b">>From x Wed Mar  3 01:02:03 2003\n",
    b"Subject: hello\n",
    b"\n",
    b"\r\n",
    b"text with From  inside Mon 10:00\n",
    b"no newline at the end",
])


@settings(derandomize=True, max_examples=300, deadline=None)
@given(lines=st.lists(LINES, min_size=1, max_size=30), split_size=st.integers(1, 400),
       scan_bytes=st.integers(1, 64))
def test_random_mbox_texts_cut_at_random_split_sizes(lines, split_size, scan_bytes):
    data = SEPARATOR + b"".join(lines)
    assert_same_as_whole(data, split_size, scan_bytes)
    read = reader(data)
    several = holds_several_messages(read, len(data), scan_bytes)
    ranged = [found for start, end in ranges_of(len(data), split_size)
              for found in found_in_range(read, URI, RELPATH, start, end, len(data), several)]
    assert ranged == list(iter_found(data, URI, RELPATH))
