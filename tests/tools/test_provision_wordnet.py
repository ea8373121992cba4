import os
import subprocess
import sys

import pytest

from tools import provision_wordnet

PROJECT_NLTK_DATA = os.path.join(provision_wordnet.REPO, ".nltk_data")

# Runs NLTK with every network connection refused, as on a machine where
# nltk.download cannot reach its server.
OFFLINE_LEMMATIZE = """
import socket
def refuse(*args, **kwargs):
    raise OSError("network disabled for this test")
socket.socket.connect = refuse
socket.create_connection = refuse
import nltk
assert not nltk.download("wordnet", quiet=True, raise_on_error=False)
from nltk.stem import WordNetLemmatizer
print(WordNetLemmatizer().lemmatize("meetings"))
"""


def test_lexnames_lists_the_45_lexicographer_files():
    lines = provision_wordnet.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"


def test_project_wordnet_lemmatizes_offline():
    env = dict(os.environ, NLTK_DATA=PROJECT_NLTK_DATA)
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_LEMMATIZE], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "meeting"


def test_debian_route_copies_regular_files(tmp_path):
    if provision_wordnet.debian_wordnet_dir() is None:
        pytest.skip("Debian's WordNet packages cannot be installed or fetched here")
    assert provision_wordnet.copy_debian(str(tmp_path))
    wordnet_dir = tmp_path / "corpora" / "wordnet"
    assert not any(os.path.islink(path) for path in wordnet_dir.iterdir())
    assert (wordnet_dir / "lexnames").read_text() == provision_wordnet.lexnames_text()
    assert provision_wordnet.wordnet_loads(str(tmp_path))


def test_error_is_one_line_when_no_route_works(tmp_path, monkeypatch):
    for route in ("copy_from_other_nltk_dir", "download", "copy_debian"):
        monkeypatch.setattr(provision_wordnet, route, lambda target: None)
    status = provision_wordnet.main(["--target", str(tmp_path / "empty")])
    assert status == 1
