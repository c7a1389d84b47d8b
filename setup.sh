#!/usr/bin/env bash
# Sets treesynth up on a fresh Debian machine: the system packages the sandbox and the report's
# browser test use (bubblewrap, chromium), then the npm dependencies, which also builds the CLI.
# Kafka and the schema registry are separate: `npm run -s stack:up`.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: install ${missing[*]} (apt-get install ${missing[*]}), then run this again" >&2
    exit 1
  fi
fi

# hnswlib-node builds with node-gyp; point it at this Node's own headers instead of letting it
# download them (only the package registries are reachable here).
node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
if [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

npm ci --no-audit --no-fund
