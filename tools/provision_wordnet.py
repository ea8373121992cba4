"""Make WordNet 3.0 available to NLTK without relying on nltk.download.

Routes, tried in order until one gives a WordNet that NLTK can load:

1. the project data dir (``--target``, default ``<repo>/.nltk_data``) already
   has it: nothing to do;
2. another NLTK data dir on NLTK's search path has it: copy it in;
3. ``nltk.download('wordnet')`` (works where NLTK's server is reachable,
   such as EMR nodes);
4. Debian's ``wordnet-base`` and ``wordnet-sense-index`` packages: installed
   with apt-get when run as root, otherwise fetched with ``apt-get download``
   and unpacked; their dictionary files are *copied* (NLTK 3.10 rejects
   symlinked data files) and the ``lexnames`` file NLTK reads is written from
   the table in lexnames(5WN), which the Debian packages do not ship.

Then the lemma tables the analyzer reads are cached beside the WordNet
files (features/wordnet.py). Exit status 0 when WordNet loads afterwards,
1 with one error line otherwise.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TARGET = os.path.join(REPO, ".nltk_data")
DEBIAN_WORDNET_DIR = "/usr/share/wordnet"
DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index")

# lexnames(5WN): file number -> lexicographer file name. The third column NLTK
# reads is the syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact "
    "noun.attribute noun.body noun.cognition noun.communication noun.event "
    "noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time "
    "verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather "
    "adj.ppl"
).split()
SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
REQUIRED_FILES = [
    "%s.%s" % (kind, pos)
    for kind in ("index", "data")
    for pos in ("noun", "verb", "adj", "adv")
] + ["noun.exc", "verb.exc", "adj.exc", "adv.exc"]


class ProvisionError(Exception):
    pass


def lexnames_text():
    return "".join(
        "%02d\t%s\t%d\n" % (number, name, SYNTACTIC_CATEGORY[name.split(".")[0]])
        for number, name in enumerate(LEXNAMES)
    )


def wordnet_loads(data_dir):
    """True when NLTK, searching only ``data_dir``, lemmatizes with WordNet.

    Checked in a subprocess so NLTK's module-level caches of a failed load do
    not leak into the next attempt.
    """
    probe = (
        "import nltk; nltk.data.path[:] = [%r];"
        "from nltk.stem import WordNetLemmatizer;"
        "assert WordNetLemmatizer().lemmatize('meetings') == 'meeting'" % data_dir
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True
    )
    return result.returncode == 0


def copy_from_other_nltk_dir(target):
    import nltk

    for candidate in nltk.data.path:
        if os.path.abspath(candidate) == os.path.abspath(target):
            continue
        for name in ("wordnet", "wordnet.zip"):
            source = os.path.join(candidate, "corpora", name)
            if os.path.exists(source) and wordnet_loads(candidate):
                destination = os.path.join(target, "corpora", name)
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                if os.path.isdir(source):
                    shutil.copytree(source, destination, dirs_exist_ok=True)
                else:
                    shutil.copyfile(source, destination)
                return "copied from %s" % candidate
    return None


def download(target):
    if os.environ.get("JEEVES_NO_NLTK_DOWNLOAD"):
        return None
    import nltk

    socket.setdefaulttimeout(20)
    ok = nltk.download("wordnet", download_dir=target, quiet=True, raise_on_error=False)
    return "nltk.download" if ok else None


def debian_wordnet_dir():
    """A directory holding Debian's WordNet dictionary files, installing or
    unpacking the packages when needed."""
    if _has_required(DEBIAN_WORDNET_DIR):
        return DEBIAN_WORDNET_DIR
    if not shutil.which("apt-get"):
        return None
    if os.geteuid() == 0:
        if _apt_install() and _has_required(DEBIAN_WORDNET_DIR):
            return DEBIAN_WORDNET_DIR
    return _apt_download_and_unpack()


def _has_required(directory):
    return all(os.path.exists(os.path.join(directory, f)) for f in REQUIRED_FILES)


def _apt_install():
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *DEBIAN_PACKAGES]
    if subprocess.run(command, env=env, capture_output=True).returncode == 0:
        return True
    # A fresh machine may have no package lists yet.
    subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
    return subprocess.run(command, env=env, capture_output=True).returncode == 0


def _apt_download_and_unpack():
    workdir = tempfile.mkdtemp(prefix="jeeves-wordnet-")
    fetched = subprocess.run(
        ["apt-get", "download", *DEBIAN_PACKAGES], cwd=workdir, capture_output=True
    )
    if fetched.returncode != 0:
        return None
    root = os.path.join(workdir, "root")
    for deb in sorted(os.listdir(workdir)):
        if deb.endswith(".deb"):
            subprocess.run(["dpkg-deb", "-x", deb, root], cwd=workdir, check=True)
    unpacked = os.path.join(root, DEBIAN_WORDNET_DIR.lstrip("/"))
    return unpacked if _has_required(unpacked) else None


def copy_debian(target):
    source = debian_wordnet_dir()
    if source is None:
        return None
    destination = os.path.join(target, "corpora", "wordnet")
    os.makedirs(destination, exist_ok=True)
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        if os.path.isfile(path):
            # copyfile follows symlinks, so the copies are regular files.
            shutil.copyfile(path, os.path.join(destination, name))
    with open(os.path.join(destination, "lexnames"), "w") as handle:
        handle.write(lexnames_text())
    return "Debian packages (%s)" % source


def provision(target):
    if wordnet_loads(target):
        return "already present"
    os.makedirs(target, exist_ok=True)
    for route in (copy_from_other_nltk_dir, download, copy_debian):
        how = route(target)
        if how and wordnet_loads(target):
            return how
    raise ProvisionError(
        "no route gave a WordNet NLTK can load in %s (no NLTK data dir has it, "
        "nltk.download failed, Debian packages %s unavailable)"
        % (target, " and ".join(DEBIAN_PACKAGES))
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=DEFAULT_TARGET, help="NLTK data dir to fill")
    args = parser.parse_args(argv)
    try:
        how = provision(os.path.abspath(args.target))
    except ProvisionError as error:
        print("provision_wordnet: error: %s" % error, file=sys.stderr)
        return 1
    print("WordNet in %s: %s" % (args.target, how))
    write_lemma_tables(os.path.abspath(args.target))
    return 0


def write_lemma_tables(data_dir):
    """Cache the lemma tables next to the WordNet files (features/wordnet.py),
    so no task pays NLTK's load; built in a subprocess that sees only data_dir."""
    code = "from jeeves.features.wordnet import load_lemma_tables; load_lemma_tables()"
    subprocess.run([sys.executable, "-c", code], check=True,
                   env=dict(os.environ, NLTK_DATA=data_dir))


if __name__ == "__main__":
    sys.exit(main())
