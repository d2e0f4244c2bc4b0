#!/usr/bin/env bash
# Format, lint and type checks: ruff (format + lint rules in pyproject.toml) and mypy for lib/.
# Usage: bash scripts/check.sh [--fix]   (--fix reformats and applies safe lint fixes first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
if [ "${1:-}" = "--fix" ]; then
  .venv/bin/ruff format .
  .venv/bin/ruff check --fix .
fi
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy
