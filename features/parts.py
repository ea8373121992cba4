"""The part files of a job's output directory, Hadoop's layout, in name order.

Every job writes ``part-NNNNN`` files (one per reducer, or per mapper in a
map-only step) beside markers (``_SUCCESS``) and checksums (``.crc``);
readers take the part files alone, in name order, so their concatenation is
the job's output whatever the number of tasks. The one lister of a local
directory: Storage (scripts/storage.py) uses it for
local URIs and mrjob's ``fs.ls`` for remote ones.
"""

import os


def part_files(directory):
    """The ``part-*`` files of a local directory in name order (none if it is missing)."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if name.startswith("part-"))
