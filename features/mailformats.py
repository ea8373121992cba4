"""Find the messages in one input file, whatever its format.

The format is detected by content, not by extension:

- gzip or bz2 (magic bytes): decompressed, then detected again;
- tar (``ustar`` magic): each member is detected like a file; members written
  by :func:`pack_files` carry the original file's URI in a PAX header, so a
  message packed into a container keeps the source of its own file;
- JSON lines (first byte ``{``): records already parsed (pass-through, so a
  run can restart from parsed data) or quarantine records;
- mbox (first line ``From ``): split at ``From `` lines that carry a date,
  ``>From `` escaping undone; its name joins ``folder`` when it holds more
  than one message or ends in ``.mbox``/``.mbx``;
- subject-plus-body (Enron-Spam style): a ``Subject:`` line, then the body;
- a single RFC 822 message (maildir, SpamAssassin, Berkeley ``.txt``): a
  header block with at least one standard header;
- anything else (empty, random bytes, a README) is a problem to quarantine.

:func:`iter_found` yields :class:`Found` items; it never raises on bad input.
"""

from __future__ import annotations

import bz2
import gzip
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
# offending bytes; reason and detail say why).
Found = namedtuple("Found", "kind data uri index offset folder reason detail")

URI_PAX_KEY = "JEEVES.uri"
_MAX_NESTING = 4
_MBOX_SEPARATOR = re.compile(
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


def split_mbox(data):
    """Yield (offset, raw message) for each message of an mbox, unescaped."""
    starts = [match.start() for match in _MBOX_SEPARATOR.finditer(data)]
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
        yield Found("rfc822", message, uri, offset, offset, folder, None, None)


def _decompress(data, opener):
    try:
        return opener(data), None
    except (OSError, EOFError, ValueError, zlib.error) as error:
        return None, "%s: %s" % (type(error).__name__, error)


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


def _iter_json_lines(data, uri, relpath):
    if _is_one_json_document(data):
        yield _problem(data, uri, relpath, "not_a_record", "a JSON document, not JSON lines")
        return
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


def _iter_tar(data, uri, relpath, depth):
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        members = archive.getmembers()
    except (tarfile.TarError, EOFError, OSError) as error:
        yield _problem(data, uri, relpath, "corrupt_tar", str(error))
        return
    for member in members:
        if not member.isfile():
            continue
        member_uri = member.pax_headers.get(URI_PAX_KEY) or "%s#%s" % (uri, member.name)
        try:
            content = archive.extractfile(member).read()
        except (tarfile.TarError, EOFError, OSError) as error:
            yield _problem(b"", member_uri, member.name, "corrupt_tar", str(error))
            continue
        yield from _iter_content(content, member_uri, member.name, depth + 1)


def _iter_content(data, uri, relpath, depth):
    if depth > _MAX_NESTING:
        yield _problem(data, uri, relpath, "nested_too_deep", "containers nested too deep")
        return
    if not data.strip():
        yield _problem(data, uri, relpath, "empty_file", "no content")
        return
    if data[:2] == b"\x1f\x8b":
        content, error = _decompress(data, gzip.decompress)
        if error:
            yield _problem(data, uri, relpath, "corrupt_gzip", error)
        else:
            yield from _iter_content(content, uri, _strip_suffix(relpath, (".gz",)), depth + 1)
        return
    if data[:3] == b"BZh":
        content, error = _decompress(data, bz2.decompress)
        if error:
            yield _problem(data, uri, relpath, "corrupt_bz2", error)
        else:
            yield from _iter_content(content, uri, _strip_suffix(relpath, (".bz2",)), depth + 1)
        return
    if data[257:262] == b"ustar":
        yield from _iter_tar(data, uri, relpath, depth)
        return
    if data.lstrip()[:1] == b"{":
        yield from _iter_json_lines(data, uri, relpath)
        return
    if data.startswith(b"From "):
        messages = list(split_mbox(data))
        yield from mbox_found(messages, uri, relpath, len(messages) > 1)
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
    name and its own.
    """
    files = []
    for path in paths:
        absolute = os.path.abspath(path)
        if os.path.isdir(absolute):
            root_parent = os.path.dirname(absolute.rstrip(os.sep))
            for directory, subdirs, names in os.walk(absolute):
                subdirs.sort()
                for name in sorted(names):
                    file_path = os.path.join(directory, name)
                    relpath = os.path.relpath(file_path, root_parent).replace(os.sep, "/")
                    files.append((file_path, _file_uri(file_path), relpath))
        else:
            files.append((absolute, _file_uri(absolute), relpath_of_uri(absolute)))
    return files


def _file_uri(path):
    return pathlib.Path(path).as_uri()
