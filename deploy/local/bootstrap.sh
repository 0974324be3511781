#!/usr/bin/env bash
# Prepares a fresh checkout: a virtualenv with credstream and its dev tools (.venv), re-installed
# when pyproject.toml changes. Sourced by deploy/local/up, deploy/local/down and tests/run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${CREDSTREAM_PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      PY="$candidate"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "credstream needs Python 3.11+" >&2; exit 1; }
command -v java >/dev/null || { echo "credstream needs Java 17+ (for the Kafka broker)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "credstream needs Maven (to assemble the Kafka broker)" >&2; exit 1; }

VENV="$ROOT/.venv"
STAMP="$VENV/.credstream-installed"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "[credstream-local] installing Python dependencies into .venv" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
