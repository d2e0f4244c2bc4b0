#!/usr/bin/env bash
# Set up and run every test tier: unit (moto), app (AppTest), enforce (LocalStack), browser (Chromium).
# Installs what it needs: .venv (app + test packages), LocalStack in .venv-localstack, SeaweedFS in
# .venv-seaweedfs, Debian chromium.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
BUCKETDESK_LOCALSTACK_PYTHON="$(bash scripts/localstack-venv.sh | tail -n 1)"
export BUCKETDESK_LOCALSTACK_PYTHON
# SeaweedFS verifies POST policy signatures, which LocalStack 4.9.2 does not.
BUCKETDESK_WEED="$(bash scripts/seaweedfs-venv.sh | tail -n 1)"
export BUCKETDESK_WEED
if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
export BUCKETDESK_CHROMIUM="${BUCKETDESK_CHROMIUM:-$(command -v chromium)}"
# A tier that cannot run fails instead of skipping: a green run means every tier ran.
export BUCKETDESK_REQUIRE_ALL_TIERS=1
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
# One process per tier: moto's in-process store is shared with the embedded sandbox, so a tier's
# mocks must not reset another tier's buckets. Every tier runs; the script fails if any failed.
status=0
for tier in unit app enforce browser; do
  echo "=== tier: $tier ==="
  started=$(date +%s)
  .venv/bin/python -m pytest -m "$tier" -q || status=1
  echo "=== tier: $tier took $(( $(date +%s) - started )) s ==="
done
exit "$status"
