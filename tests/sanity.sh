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
# ansible-test bootstraps pip in its virtual environments with a script it
# downloads from a host outside the package registries; provide it offline.
PIP_VERSION="$(python - <<'PY'
import re, inspect
from ansible_test._internal import python_requirements as pr
print(re.search(r"pip='([^']+)'", inspect.getsource(pr.get_venv_packages)).group(1))
PY
)"
if [ -n "$PIP_VERSION" ]; then
  GET_PIP="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
  mkdir -p "$(dirname "$GET_PIP")"
  cp "$ROOT/tests/sanity_get_pip.py" "$GET_PIP"
fi
cd "$DEST"
PYV="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
ansible-test sanity --python "$PYV" --color no --requirements "$@"
