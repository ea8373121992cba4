"""The local and inline runners' task inputs, cut by byte ranges instead of
line by line.

mrjob's local and inline runners (``mrjob.sim.SimMRJobRunner``) give each
task a file of its own: the driver reads every input line, counts its bytes
and writes it again into the task's split file, and does the same with the
sorted reducer input. For the features stage that is the whole of
``OUT/messages/`` twice a run (the count job and the tf-idf job): about 0.15 s
of the driver's serial time per job on the 64 MB benchmark, while both cores
wait.

:func:`use_range_splits` (jeeves.runjob calls it) gives such a runner two
methods that cut the input as mrjob does, into files of the same bytes for
a split size: a split ends before the first line that starts at least the
split size into it (and, for reducer input, not inside a run of lines with
the same key, as mrjob keeps them together). The split size is mrjob's (two
tasks a core) for inputs of at least TASK_BYTES a task, else one task a
core (:func:`tasks_for`). The boundaries are
found with ``mmap.find`` and the ranges copied by the kernel
(``os.copy_file_range``; through memory where that call is missing or
refused), side by side in a thread a core. Compressed input and input
manifests go to mrjob's own code. tests/scripts/test_local_splits.py holds
the files equal to mrjob's.
"""

import mmap
import os
import types
from concurrent.futures import ThreadPoolExecutor

from mrjob.cat import is_compressed

# bytes copied per call when the kernel cannot copy (and per copy_file_range call)
CHUNK = 16 << 20
# mrjob cuts a step's input into two tasks per core (num_cores) whatever its
# size. A task's start costs about 0.15 CPU s here (Python, mrjob's imports,
# the lemma tables; a tf-idf task also reads the vocabulary and learns its
# lemmas again), so below this many bytes a task the input is cut into one
# task per core instead: on the 64 MB benchmark, 6 tasks of the features
# stage instead of 12, alike in size (the records' bytes), so the cores
# still finish together.
TASK_BYTES = 64 << 20


def tasks_for(size, cores):
    """How many splits of ``size`` bytes for ``cores`` cores: two a core
    (mrjob's own rule) once each holds TASK_BYTES, else one a core."""
    return 2 * cores if size >= 2 * cores * TASK_BYTES else cores


def use_range_splits(runner):
    """Replace ``runner``'s (mrjob's local or inline runner) two input splitters."""
    runner._split_mapper_input = types.MethodType(_split_mapper_input, runner)
    runner._split_reducer_input = types.MethodType(_split_reducer_input, runner)
    return runner


def line_boundaries(view, size, split_size, keyed=False):
    """The (start, end) byte ranges of the splits of the lines in ``view[:size]``
    (a mmap or bytes), as ``mrjob.sim._split_records`` groups them: a split
    takes lines until it holds at least ``split_size`` bytes, and with
    ``keyed``, also every following line whose key (up to the first tab) is
    the key of the line before. An empty input is one empty split."""
    if size == 0:
        return [(0, 0)]
    ranges = []
    start = 0
    while start < size:
        # the first line of a split is always its own; a split ends at the
        # first line start at least split_size bytes in
        newline = view.find(b"\n", max(start, start + split_size - 1), size)
        end = size if newline < 0 else newline + 1
        if keyed:
            while end < size and _key_before(view, end) == _key_at(view, end, size):
                newline = view.find(b"\n", end, size)
                end = size if newline < 0 else newline + 1
        ranges.append((start, end))
        start = end
    return ranges


def _key_at(view, position, size):
    """The key (bytes up to the first tab, or the whole line) of the line at ``position``."""
    newline = view.find(b"\n", position, size)
    line_end = size if newline < 0 else newline + 1
    tab = view.find(b"\t", position, line_end)
    return view[position:line_end if tab < 0 else tab]


def _key_before(view, position):
    """The key of the line that ends just before ``position``."""
    line_start = view.rfind(b"\n", 0, position - 1) + 1
    tab = view.find(b"\t", line_start, position)
    return view[line_start:position if tab < 0 else tab]


def copy_range(source, target, start, length):
    """Copy ``length`` bytes of the open file ``source`` from ``start`` to the
    open file ``target`` at its position."""
    target.flush()
    copied = 0
    copy = getattr(os, "copy_file_range", None)
    while copy is not None and copied < length:
        try:
            done = copy(source.fileno(), target.fileno(), min(CHUNK, length - copied),
                        start + copied)
        except OSError:
            break
        if done == 0:
            break
        copied += done
    # the file object's position after what the kernel wrote at its descriptor
    target.seek(0, os.SEEK_END)
    if copied < length:
        # the kernel could not (another file system, an old kernel): through memory
        source.seek(start + copied)
        while copied < length:
            chunk = source.read(min(CHUNK, length - copied))
            if not chunk:
                raise OSError("%s ended before byte %d" % (source.name, start + length))
            target.write(chunk)
            copied += len(chunk)


def _ranges_of(path, split_size, keyed=False):
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return [(0, 0)]
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return line_boundaries(view, size, split_size, keyed)


def _write_splits(path, ranges, fileobjs):
    """Write each range of ``path`` to the next file of ``fileobjs``, the
    ranges side by side in threads (one a core): the kernel's copy lets go
    of the GIL, and the runner's tasks wait for every split. The two ranges
    of the 64 MB run's 60 MB of records: 0.026 s one after the other, 0.016 s
    side by side (medians of eight), twice a run (the count and tf-idf jobs)."""
    targets = []
    try:
        for _ in ranges:
            targets.append(next(fileobjs))
        with ThreadPoolExecutor(max_workers=min(len(ranges), os.cpu_count() or 1)) as pool:
            list(pool.map(_copy_split, [path] * len(ranges), ranges, targets))
    finally:
        for target in targets:
            target.close()


def _copy_split(path, byte_range, target):
    """Copy the bytes ``byte_range`` (start, end) of ``path`` to the open file
    ``target`` (a source handle of its own: the copy through memory seeks it)."""
    start, end = byte_range
    with open(path, "rb") as source:
        copy_range(source, target, start, end - start)


def _split_mapper_input(self, input_paths, step_num):
    """mrjob.sim.SimMRJobRunner._split_mapper_input, by byte ranges (module docstring)."""
    input_paths = list(input_paths)
    if (step_num == 0 and self._uses_input_manifest()) or any(
            is_compressed(path) for path in input_paths):
        return type(self)._split_mapper_input(self, input_paths, step_num)
    size = sum(os.stat(path).st_size for path in input_paths)
    split_size = size // tasks_for(size, self._num_mappers(step_num))
    fileobjs = self._yield_split_fileobjs("mapper", step_num)
    results = []
    for path in input_paths:
        ranges = _ranges_of(path, split_size)
        _write_splits(path, ranges, fileobjs)
        results.extend(dict(file=path, start=start, length=end - start) for start, end in ranges)
    return results


def _split_reducer_input(self, step_num):
    """mrjob.sim.SimMRJobRunner._split_reducer_input, by byte ranges: the
    number of reducer tasks."""
    path = self._sorted_reducer_input_path(step_num)
    size = os.stat(path).st_size
    split_size = size // tasks_for(size, self._num_reducers(step_num))
    ranges = _ranges_of(path, split_size, keyed=True)
    _write_splits(path, ranges, self._yield_split_fileobjs("reducer", step_num))
    return len(ranges)
