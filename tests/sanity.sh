#!/usr/bin/env bash
# ansible-test needs the collection at ansible_collections/<ns>/<name>:
# copy the tracked files into such a tree in a temporary directory and run
# the sanity tests there on this Python.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
DEST="$TMP/ansible_collections/claude_code/observability"
mkdir -p "$DEST"
cd "$ROOT"
git ls-files -co --exclude-standard -z | grep -zv '^collections/' | xargs -0 cp --parents -t "$DEST"
cd "$DEST"
PYV="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
ansible-test sanity --python "$PYV" --color no --requirements "$@"
