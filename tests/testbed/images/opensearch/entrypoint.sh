#!/usr/bin/env bash
# Test-bed entrypoint: turns `setting.name=value` environment variables into
# -E options, as the official image does. The security plugin is not part of
# the test bed (it is not obtainable here), so its settings are dropped with a
# notice instead of failing on an unknown setting.
set -e
opts=()
while IFS='=' read -r name value; do
  if [[ "$name" =~ ^[a-z0-9_]+\.[a-z0-9_.]+$ ]]; then
    if [[ "$name" == plugins.security.* ]]; then
      echo "test-bed image: no security plugin, ignoring $name" >&2
      continue
    fi
    opts+=("-E${name}=${value}")
  fi
done < <(env)
if [[ "${DISABLE_SECURITY_PLUGIN:-}" != "true" ]]; then
  echo "test-bed image: no security plugin, running without it" >&2
fi
if [[ "$1" == "opensearch" ]]; then
  shift
  exec /usr/share/opensearch/bin/opensearch "${opts[@]}" "$@"
fi
exec "$@"
