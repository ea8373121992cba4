"""Find the messages in one input file, whatever its format.

The format is detected by content, not by extension:

- gzip or bz2 (magic bytes): decompressed, then detected again; a stream
  cut short or damaged is salvaged (below);
- tar (``ustar`` magic): each member is detected like a file; members written
  by :func:`pack_files` carry the original file's URI in a PAX header, so a
  message packed into a container keeps the source of its own file;
- text with a UTF-16 or UTF-32 byte-order mark: re-encoded as UTF-8 (a UTF-8
  mark is dropped), then detected again, with a warning;
- JSON lines (first byte ``{``): records already parsed (pass-through, so a
  run can restart from parsed data) or quarantine records;
- mbox (first line ``From ``): split at ``From `` lines that carry a date,
  ``>From `` escaping undone; its name joins ``folder`` when it holds more
  than one message or ends in ``.mbox``/``.mbx``;
- subject-plus-body (Enron-Spam style): a ``Subject:`` line, then the body;
- a single RFC 822 message (maildir, SpamAssassin, Berkeley ``.txt``): a
  header block with at least one standard header;
- anything else (empty, random bytes, a README) is a problem to quarantine.

Salvage: a gzip or bz2 stream is decompressed incrementally, so when it is
truncated or corrupt the content that came out before the damage is known.
That content is detected as usual, except that the item in progress at the
damage point (the last message of an mbox, the last line of JSON lines, the
tar member being read, the one message of a single-message file) and
everything after it become ONE problem (``truncated_gzip``, ``corrupt_gzip``,
``truncated_bz2``, ``corrupt_bz2``) whose detail gives the compressed byte
offset of the damage. A tar read member by member yields the members before
damage, then one ``truncated_tar`` or ``corrupt_tar`` problem. A plain mbox
that does not end with a newline (every mbox writer ends a message with
one) has its last message cut: it is quarantined as ``truncated_mbox``
(in :func:`mbox_found`, so that byte ranges of a file agree).

:func:`iter_found` yields :class:`Found` items; it never raises on bad input.
"""

from __future__ import annotations

import bz2
import codecs
import io
import json
import os
import pathlib
import posixpath
import re
import tarfile
import zlib
from collections import namedtuple
from urllib.parse import unquote

# kind: "rfc822" or "subject_body" (data: raw bytes), "record" or
# "quarantine_record" (data: a dict read from JSON lines), "problem" (data: the
# offending bytes; reason and detail say why). warnings: names of what was
# done to the bytes to read them (counted by the job with the parser's).
Found = namedtuple("Found", "kind data uri index offset folder reason detail warnings",
                   defaults=((),))
# Where a compressed stream stops being readable: reason (truncated_gzip...),
# the byte offset of the damage in the compressed bytes, and a description.
# ``complete``: the content before it is whole (only bytes after the streams
# are bad), so no item of it is in progress.
Damage = namedtuple("Damage", "reason offset detail complete")

URI_PAX_KEY = "JEEVES.uri"
_MAX_NESTING = 4
MBOX_SEPARATOR = re.compile(
    rb"^From [^\r\n]*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [^\r\n]*\d\d:\d\d[^\r\n]*\r?\n",
    re.MULTILINE,
)
_MBOX_FIRST_LINE = re.compile(rb"From [^\r\n]*\r?\n")
_MBOX_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_HEADER_NAME = re.compile(rb"^([!-9;-~]+):", re.MULTILINE)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_SUBJECT_LINE = re.compile(rb"Subject:[^\r\n]*\r?\n", re.IGNORECASE)
_HEADER_OR_CONTINUATION = re.compile(rb"[!-9;-~]+:|[ \t]")
_STANDARD_HEADERS = frozenset((
    b"from", b"to", b"cc", b"bcc", b"subject", b"date", b"message-id", b"received",
    b"return-path", b"mime-version", b"content-type", b"delivered-to", b"sender",
    b"reply-to", b"in-reply-to", b"references", b"x-from", b"x-to",
))
_HEADER_SCAN_BYTES = 65536
_COMPRESSION_SUFFIXES = (".gz", ".bz2")
_FEED_BYTES = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"
_BZ2_MAGIC = b"BZh"
_TAR_BLOCK = 512
# longest first: the UTF-32 LE mark starts with the UTF-16 LE one
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "decoded_from_utf32"),
    (codecs.BOM_UTF32_BE, "utf-32", "decoded_from_utf32"),
    (codecs.BOM_UTF16_LE, "utf-16", "decoded_from_utf16"),
    (codecs.BOM_UTF16_BE, "utf-16", "decoded_from_utf16"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf8_mark_dropped"),
)
_MBOX_SUFFIXES = (".mbox", ".mbx")


def folder_of(relpath, is_mbox):
    """Path segments of a file's directory, plus the mbox name when it is one."""
    directory, name = posixpath.split(relpath)
    segments = [segment for segment in directory.split("/") if segment not in ("", ".", "..")]
    if is_mbox:
        for suffix in _COMPRESSION_SUFFIXES + _MBOX_SUFFIXES:
            if name.lower().endswith(suffix):
                name = name[:-len(suffix)]
        segments.append(name)
    return segments


def looks_like_headers(data):
    """True when ``data`` opens with a header block holding a standard header."""
    head = data[:_HEADER_SCAN_BYTES]
    if not _HEADER_NAME.match(head):
        return False
    end = _BLANK_LINE.search(head)
    block = head[:end.start()] if end else head
    names = {name.lower() for name in _HEADER_NAME.findall(block)}
    return not names.isdisjoint(_STANDARD_HEADERS)


def is_subject_body(data):
    """True for a ``Subject:`` line followed directly by body text."""
    first = _SUBJECT_LINE.match(data)
    if first is None:
        return False
    rest = data[first.end():]
    return not rest or not _HEADER_OR_CONTINUATION.match(rest)


def separator_starts(data):
    """The offsets of ``MBOX_SEPARATOR``'s matches in ``data``, as its
    ``finditer`` gives them, found faster: a match is one whole line that
    starts with ``From `` at offset 0 or after a newline, so only those
    lines (found by ``bytes.find``) are tried, not every offset."""
    match, find = MBOX_SEPARATOR.match, data.find
    starts = [0] if match(data, 0) else []
    at = find(b"\nFrom ")
    while at >= 0:
        at += 1
        if match(data, at):
            starts.append(at)
        at = find(b"\nFrom ", at)
    return starts


def split_mbox(data):
    """Yield (offset, raw message) for each message of an mbox, unescaped."""
    starts = separator_starts(data)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    starts.append(len(data))
    for begin, end in zip(starts, starts[1:]):
        first_line = _MBOX_FIRST_LINE.match(data, begin)
        body_start = first_line.end() if first_line else begin
        message = data[body_start:end]
        if b">From " in message:
            message = _MBOX_ESCAPED_FROM.sub(rb"\1", message)
        yield begin, message


def mbox_found(messages, uri, relpath, several):
    """Found items of an mbox's (offset, raw message) pairs.

    ``several``: the whole file holds more than one message. A file is a
    mailbox (its name joins ``folder``) when it does or is named
    ``.mbox``/``.mbx``: a one-message file with a From_ line (SpamAssassin)
    is no folder. ``index`` is the offset too, not the message's ordinal,
    because a byte range of a split file (features/mbox_ranges.py) knows
    its messages' offsets but not how many came before.
    """
    is_mailbox = several or relpath.lower().endswith(_MBOX_SUFFIXES)
    folder = folder_of(relpath, is_mailbox)
    for offset, message in messages:
        if message.endswith(b"\n"):
            yield Found("rfc822", message, uri, offset, offset, folder, None, None)
        else:
            # only the file's last message can end without a newline (the
            # others end where a From_ line starts): the file was cut in it
            yield _problem(message, uri, relpath, "truncated_mbox",
                           "the mbox ends inside this message (no final newline)",
                           offset, offset)


def _decompressor(kind):
    # wbits 31: a gzip header and trailer (CRC-32 and length are checked)
    return zlib.decompressobj(wbits=31) if kind == "gzip" else bz2.BZ2Decompressor()


def _feed(decompressor, data, start, end, step, output):
    """Feed data[start:end] to ``decompressor`` in pieces of ``step`` bytes,
    appending its output, until the stream ends. Returns (where the stream
    ended, or ``end``; None) or (start of the piece that failed, the error)."""
    for here in range(start, end, step):
        piece = data[here:min(here + step, end)]
        try:
            output.append(decompressor.decompress(piece))
        except (OSError, EOFError, ValueError, zlib.error) as error:
            return here, error
        if decompressor.eof:
            return here + len(piece) - len(decompressor.unused_data), None
    return end, None


def decompress_salvaging(data, kind):
    """(content, damage) of gzip (``kind`` "gzip") or bz2 ("bz2") bytes.

    ``content`` is what the streams (several concatenated ones too)
    decompress to before the first damage; ``damage`` is None, or a
    :data:`Damage`: ``truncated_<kind>`` when the data ends inside a stream,
    ``corrupt_<kind>`` at the byte where the decompressor failed (the failing
    piece is fed again byte by byte, so the output before it is kept), or
    ``corrupt_<kind>`` with ``complete`` set for bytes after the last stream
    that are neither another stream nor zero padding.
    """
    magic = _GZIP_MAGIC if kind == "gzip" else _BZ2_MAGIC
    output = []
    start = 0
    while True:
        decompressor = _decompressor(kind)
        produced = len(output)
        stopped, error = _feed(decompressor, data, start, len(data), _FEED_BYTES, output)
        if error is not None:
            del output[produced:]
            decompressor = _decompressor(kind)
            _feed(decompressor, data, start, stopped, _FEED_BYTES, output)
            bad, byte_error = _feed(decompressor, data, stopped,
                                    min(stopped + _FEED_BYTES, len(data)), 1, output)
            if byte_error is None:  # not found again byte by byte: blame the piece
                bad = stopped
            return b"".join(output), Damage(
                "corrupt_" + kind, bad, "%s stream damaged at byte %d (%s: %s)" % (
                    kind, bad, type(error).__name__, error), False)
        if not decompressor.eof:
            return b"".join(output), Damage(
                "truncated_" + kind, len(data),
                "%s stream cut short: the data ends at byte %d inside it" % (kind, len(data)),
                False)
        start = stopped
        rest = data[start:]
        if not rest.strip(b"\x00"):
            return b"".join(output), None
        if not rest.startswith(magic):
            return b"".join(output), Damage(
                "corrupt_" + kind, start,
                "%d bytes after the %s stream's end at byte %d are not a stream" % (
                    len(rest), kind, start), True)


def _strip_suffix(relpath, suffixes):
    lowered = relpath.lower()
    for suffix in suffixes:
        if lowered.endswith(suffix):
            return relpath[:-len(suffix)]
    return relpath


def _problem(data, uri, relpath, reason, detail, index=None, offset=None):
    return Found("problem", data, uri, index, offset, folder_of(relpath, False), reason, detail)


def _is_one_json_document(data):
    """True for a JSON file that is one (pretty-printed) value, not JSON lines."""
    try:
        json.loads(data.split(b"\n", 1)[0])
        return False
    except ValueError:
        pass
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


def _lost(cut, data, uri, relpath, offset, what):
    """The one problem for what a damage point cuts off: ``data``, from
    ``offset`` of the (decompressed) content on."""
    detail = "%s; %s, from byte %d of the content on, is lost" % (cut.detail, what, offset)
    return _problem(data, uri, relpath, cut.reason, detail, offset, offset)


def _iter_json_lines(data, uri, relpath, cut=None):
    lost = b""
    if cut is not None:
        end = data.rfind(b"\n") + 1
        data, lost = data[:end], data[end:]
    if _is_one_json_document(data):
        yield _problem(data, uri, relpath, "not_a_record", "a JSON document, not JSON lines")
    else:
        yield from _json_line_items(data, uri, relpath)
    if cut is not None:
        yield _lost(cut, lost, uri, relpath, len(data), "the line in progress")


def _json_line_items(data, uri, relpath):
    offset = 0
    for index, line in enumerate(data.splitlines(True)):
        here, offset = offset, offset + len(line)
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            yield _problem(line, uri, relpath, "bad_json", str(error), index, here)
            continue
        if isinstance(value, dict) and "message_id" in value and "schema_version" in value:
            yield Found("record", value, uri, index, here, None, None, None)
        elif isinstance(value, dict) and "reason" in value and "source" in value:
            yield Found("quarantine_record", value, uri, index, here, None, None, None)
        else:
            yield _problem(line, uri, relpath, "not_a_record", "JSON line is not a record",
                           index, here)


_TAR_ERRORS = (tarfile.TarError, EOFError, OSError, ValueError)


def _tar_damage(end, error):
    # tarfile's words for data that stops: in a member, in a header, at one
    cut_short = any(words in str(error) for words in ("unexpected end", "truncated", "empty"))
    reason = "truncated_tar" if cut_short else "corrupt_tar"
    return Damage(reason, end, "tar damaged at byte %d: %s" % (end, error), False)


def _iter_tar(data, uri, relpath, depth, cut=None):
    """The members of a tar read one by one, so that those before damage are
    kept; damage (or ``cut``) ends it with one problem."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except _TAR_ERRORS as error:
        damage = cut or _tar_damage(0, error)
        yield _lost(damage, data, uri, relpath, 0, "the whole archive")
        return
    while True:
        position = archive.offset
        try:
            member = archive.next()
        except _TAR_ERRORS as error:
            damage = cut or _tar_damage(position, error)
            yield _lost(damage, data[position:], uri, relpath, position, "the member in progress")
            return
        if member is None:
            break
        if not member.isfile():
            continue
        member_uri = member.pax_headers.get(URI_PAX_KEY) or "%s#%s" % (uri, member.name)
        try:
            content = archive.extractfile(member).read()
        except _TAR_ERRORS as error:
            damage = cut or _tar_damage(member.offset, error)
            yield _lost(damage, data[member.offset:], uri, relpath, member.offset,
                        "member %s" % member.name)
            return
        yield from _iter_content(content, member_uri, member.name, depth + 1)
    # tarfile stops without an error at a header it cannot read: only a
    # block of zeros is the end of the archive
    end = archive.offset
    block = data[end:end + _TAR_BLOCK]
    if len(block) == _TAR_BLOCK and not block.strip(b"\x00"):
        damage = cut
    elif len(block) < _TAR_BLOCK:
        damage = cut or _tar_damage(end, "unexpected end of data, no end-of-archive block")
    else:
        damage = cut or _tar_damage(end, "not a tar header")
    if damage is not None:
        yield _lost(damage, data[end:], uri, relpath, end, "what follows the last whole member")


def _iter_compressed(data, uri, relpath, depth, kind, cut):
    content, damage = decompress_salvaging(data, kind)
    inner = _strip_suffix(relpath, (".gz",) if kind == "gzip" else (".bz2",))
    if damage is None or damage.complete:
        yield from _iter_content(content, uri, inner, depth + 1, cut)
        if damage is not None:
            yield _problem(data[damage.offset:], uri, relpath, damage.reason, damage.detail,
                           damage.offset, damage.offset)
        return
    # the stream's own damage is the cut (an outer one made it)
    yield from _iter_content(content, uri, inner, depth + 1, damage)


def _iter_decoded(data, uri, relpath, depth, cut, encoding, warning):
    """Text with a byte-order mark, re-encoded as UTF-8 (offsets are those of
    the UTF-8 bytes), its items carrying the warning."""
    content = data.decode(encoding, "replace").encode("utf-8")
    for found in _iter_content(content, uri, relpath, depth + 1, cut):
        yield found._replace(warnings=found.warnings + (warning,))


def _iter_content(data, uri, relpath, depth, cut=None):
    """The items of ``data``; ``cut``: a Damage after which the data is lost
    (it ends inside the item in progress, which becomes one problem)."""
    if depth > _MAX_NESTING:
        yield _problem(data, uri, relpath, "nested_too_deep", "containers nested too deep")
        return
    if not data.strip():
        if cut is not None:
            yield _lost(cut, data, uri, relpath, 0, "all of it")
        else:
            yield _problem(data, uri, relpath, "empty_file", "no content")
        return
    if data[:2] == _GZIP_MAGIC:
        yield from _iter_compressed(data, uri, relpath, depth, "gzip", cut)
        return
    if data[:3] == _BZ2_MAGIC:
        yield from _iter_compressed(data, uri, relpath, depth, "bz2", cut)
        return
    for mark, encoding, warning in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            yield from _iter_decoded(data, uri, relpath, depth, cut, encoding, warning)
            return
    if data[257:262] == b"ustar":
        yield from _iter_tar(data, uri, relpath, depth, cut)
        return
    if data.lstrip()[:1] == b"{":
        yield from _iter_json_lines(data, uri, relpath, cut)
        return
    if data.startswith(b"From "):
        messages = list(split_mbox(data))
        if cut is None:
            yield from mbox_found(messages, uri, relpath, len(messages) > 1)
            return
        offset, message = messages.pop()
        yield from mbox_found(messages, uri, relpath, True)
        yield _lost(cut, message, uri, relpath, offset, "the message in progress")
        return
    if cut is not None:
        yield _lost(cut, data, uri, relpath, 0, "the message in progress")
        return
    if is_subject_body(data):
        yield Found("subject_body", data, uri, 0, 0, folder_of(relpath, False), None, None)
        return
    if looks_like_headers(data):
        yield Found("rfc822", data, uri, 0, 0, folder_of(relpath, False), None, None)
        return
    yield _problem(data, uri, relpath, "not_email", "no mail format recognized")


def iter_found(data, uri, relpath):
    """Every message (or problem) in the bytes of one file.

    ``uri`` names the file in records; ``relpath`` is its path relative to the
    input root (``/``-separated), from which ``folder`` is taken.
    """
    return _iter_content(data, uri, relpath, 0)


def relpath_of_uri(uri):
    """A file's parent directory name and its name, from its URI or path."""
    path = unquote(uri.split("://", 1)[-1].split("#", 1)[0])
    parent, name = posixpath.split(path.rstrip("/"))
    return posixpath.join(posixpath.basename(parent), name)


def pack_files(files, directory, max_bytes):
    """Pack (path, uri, relpath) files into tar containers of about ``max_bytes``.

    Returns (container paths, paths of files that could not be read, left
    for the mapper to quarantine). Each member is named by the file's
    ``relpath`` and carries its ``uri`` in a PAX header (:data:`URI_PAX_KEY`).
    A file over ``max_bytes`` gets a container of its own.
    """
    containers, unreadable = [], []
    archive = None
    archive_bytes = 0
    try:
        for path, uri, relpath in files:
            try:
                handle = open(path, "rb")
            except OSError:
                unreadable.append(path)
                continue
            size = os.fstat(handle.fileno()).st_size
            if archive is None or archive_bytes + size > max_bytes:
                if archive is not None:
                    archive.close()
                container = os.path.join(directory, "container-%05d.tar" % len(containers))
                containers.append(container)
                archive = tarfile.open(container, "w", format=tarfile.PAX_FORMAT)
                archive_bytes = 0
            info = tarfile.TarInfo(relpath)
            info.size = size
            info.pax_headers = {URI_PAX_KEY: uri}
            with handle:
                archive.addfile(info, handle)
            archive_bytes += size
    finally:
        if archive is not None:
            archive.close()
    return containers, unreadable


def expand_inputs(paths):
    """Local input paths -> (path, file URI, relpath) for every file, sorted.

    A directory expands to all its files, recursively, with relpaths that start
    with the directory's own name; a file's relpath is its parent directory's
    name and its own. Inside a directory, the completion markers a stage
    leaves (``_SUCCESS``) are not input: names starting with ``_`` are
    skipped, as Hadoop's input formats skip them.
    """
    files = []
    for path in paths:
        absolute = os.path.abspath(path)
        if os.path.isdir(absolute):
            root_parent = os.path.dirname(absolute.rstrip(os.sep))
            for directory, subdirs, names in os.walk(absolute):
                subdirs.sort()
                for name in sorted(names):
                    if name.startswith("_"):
                        continue
                    file_path = os.path.join(directory, name)
                    relpath = os.path.relpath(file_path, root_parent).replace(os.sep, "/")
                    files.append((file_path, _file_uri(file_path), relpath))
        else:
            files.append((absolute, _file_uri(absolute), relpath_of_uri(absolute)))
    return files


def _file_uri(path):
    return pathlib.Path(path).as_uri()
