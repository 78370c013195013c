#!/usr/bin/env bash
# Runs brownie from its own virtualenv (.venv-brownie, `make brownie-setup`) on this project, offline:
# its data folders (~/.brownie, ~/.solcx) live under var/brownie instead of the real home, the solc it
# uses is the project's scripts/solc (the npm compiler), and anvil comes from node_modules.
#   scripts/brownie.sh compile | run scripts/deploy.py | test
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BROWNIE_HOME="${DAIFA_BROWNIE_HOME:-$ROOT/var/brownie}"
mkdir -p "$BROWNIE_HOME"
export HOME="$BROWNIE_HOME"
export PATH="$ROOT/scripts:$ROOT/node_modules/@foundry-rs/anvil-linux-amd64/bin:$PATH"
PY="$ROOT/.venv-brownie/bin/python"
if [ ! -x "$PY" ]; then
    echo "brownie.sh: no .venv-brownie: run \`make brownie-setup\`" >&2
    exit 1
fi
# brownie asks solcx for solc 0.8.37 by version: a link under that name to the project's executable
# (a link, not a copy: node resolves it, so the script still finds the project's node_modules).
mkdir -p "$HOME/.solcx"
ln -sfn "$ROOT/scripts/solc" "$HOME/.solcx/solc-v0.8.37"
cd "$ROOT"
mkdir -p build  # brownie creates build/brownie but not its parent
exec "$ROOT/.venv-brownie/bin/brownie" "$@"
