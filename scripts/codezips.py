"""How the code zips are made: the running ``jeeves`` package (with the
WordNet lemma tables), mrjob's own package, the native kernel's package.

jeeves.taskcode decides which zips a runner's tasks get and how;
jeeves.codecache keeps the zips between runs, keyed by their sources and by
this module (a change to how a zip is made is a new key). The zips have
fixed timestamps, so the same sources give the same bytes.

The code zip holds every ``.py`` file of the ``jeeves`` packages under
``jeeves/...``, and ``jeeves/features/lemma-tables.json``, the lemma tables
the analyzer needs (jeeves.features.wordnet), so no task needs NLTK or
WordNet. For the local runner's tasks, which run this very Python, the code
and mrjob zips also carry each module's bytecode beside it (``.pyc``,
:func:`bytecode_entry`): Python writes no bytecode cache for a module
imported from a zip, so every task would compile every module it imports.
"""

import glob
import importlib.util
import json
import marshal
import os
import platform
import struct
import zipfile

# the packages of the distribution (pyproject.toml), whatever folder each lives in
PACKAGES = ("jeeves", "jeeves.pipeline", "jeeves.mailbox", "jeeves.jobs", "jeeves.features",
            "jeeves.models")
LEMMA_TABLES_ENTRY = "jeeves/features/lemma-tables.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def package_files():
    """[(zip entry name, file path)] of every module of the jeeves packages."""
    import importlib

    files = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        directory = list(package.__path__)[0]
        prefix = name.replace(".", "/")
        for entry in sorted(os.listdir(directory)):
            if entry.endswith(".py"):
                files.append(("%s/%s" % (prefix, entry), os.path.join(directory, entry)))
    return files


def bytecode_entry(entry, source):
    """(``entry`` + "c", the bytes of an unchecked hash-based ``.pyc`` of the
    module source ``source``, PEP 552) for this Python: zipimport loads it
    instead of compiling the source, and a Python with another magic number
    skips it and compiles the source. Unchecked: the zip is made from its
    sources in one go, so they cannot differ."""
    code = compile(source, entry, "exec", dont_inherit=True)
    return entry + "c", (importlib.util.MAGIC_NUMBER + struct.pack("<I", 0b01)
                         + importlib.util.source_hash(source) + marshal.dumps(code))


def _write_module(archive, entry, source, compression, bytecode):
    """Add a module's source (and its bytecode if ``bytecode``) to ``archive``."""
    archive.writestr(zipfile.ZipInfo(entry, _EPOCH), source, compression)
    if bytecode and entry.endswith(".py"):
        name, data = bytecode_entry(entry, source)
        archive.writestr(zipfile.ZipInfo(name, _EPOCH), data, compression)


def write_code_zip(path, lemma_tables, compression=zipfile.ZIP_DEFLATED, bytecode=False):
    """Write the zip (module docstring) to ``path`` (or a binary file
    object, as zipfile takes); ``bytecode``: with each module's ``.pyc``
    for this Python (:func:`bytecode_entry`)."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for entry, source in package_files():
            with open(source, "rb") as handle:
                _write_module(archive, entry, handle.read(), compression, bytecode)
        archive.writestr(zipfile.ZipInfo(LEMMA_TABLES_ENTRY, _EPOCH),
                         json.dumps(lemma_tables, sort_keys=True), compression)
    return path


def kernel_files():
    """[(zip entry name, file path)] of the installed ``jeeves_kernel`` package
    when the tasks can load it (an abi3 build for Linux x86_64), else []."""
    import importlib.util

    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        return []
    try:
        spec = importlib.util.find_spec("jeeves_kernel")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    directory = list(spec.submodule_search_locations)[0]
    libraries = sorted(glob.glob(os.path.join(directory, "*.abi3.so")))
    init = os.path.join(directory, "__init__.py")
    if not libraries or not os.path.exists(init):
        return []
    return [("jeeves_kernel/" + os.path.basename(path), path) for path in [init] + libraries]


def write_kernel_zip(path):
    """Write the kernel's zip (jeeves.taskcode.kernel_zip) to ``path`` (or a binary
    file object); None when there is no kernel to ship."""
    files = kernel_files()
    if not files:
        return None
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, source in files:
            info = zipfile.ZipInfo(entry, _EPOCH)
            info.external_attr = 0o644 << 16
            with open(source, "rb") as handle:
                archive.writestr(info, handle.read(), zipfile.ZIP_DEFLATED)
    return path


def write_mrjob_zip(path, compressed=True):
    """Write mrjob's zip (jeeves.taskcode.mrjob_zip) to ``path`` (or a binary file object)."""
    compression = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    import mrjob

    root = os.path.dirname(os.path.abspath(mrjob.__file__))
    with zipfile.ZipFile(path, "w", compression) as archive:
        for folder, folders, names in os.walk(root):
            folders[:] = sorted(name for name in folders if name != "__pycache__")
            for name in sorted(names):
                if name.endswith((".pyc", ".pyo", "~")) or name.startswith((".#", "._")):
                    continue
                source = os.path.join(folder, name)
                entry = "mrjob/" + os.path.relpath(source, root).replace(os.sep, "/")
                with open(source, "rb") as handle:
                    _write_module(archive, entry, handle.read(), compression,
                                  bytecode=not compressed)
    return path
