#!/usr/bin/env bash
# Make sure a virtualenv with the pinned LocalStack exists, then print its python's path.
#
#   python="$(scripts/localstack-venv.sh)"
#   BUCKETDESK_LOCALSTACK_PYTHON="$python" python -m pytest -m enforce tests/enforce
#
# The venv is $BUCKETDESK_LOCALSTACK_VENV, default .venv-localstack in the repository root.
# LocalStack gets a venv of its own because its pins (cryptography, pyopenssl, cbor2, ...) would
# fight the app's. Idempotent: when the venv's python already imports the pinned LocalStack this
# only checks and prints (well under a second). Otherwise it creates the venv (with $PYTHON,
# default python3) and installs the pins. Only the python path goes to stdout; progress and
# errors go to stderr.
set -euo pipefail

LOCALSTACK_VERSION="4.9.2"
PINS=(
  "localstack-core[runtime]==${LOCALSTACK_VERSION}"
  "cbor2<5.7"
  "pyopenssl<24.3"
  "cryptography<44"
  "service_identity"
)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BUCKETDESK_LOCALSTACK_VENV:-${repo_root}/.venv-localstack}"
case "$venv" in /*) ;; *) venv="${repo_root}/${venv}" ;; esac
python_bin="${venv}/bin/python"

is_ready() {
  [ -x "$python_bin" ] && "$python_bin" - "$LOCALSTACK_VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version

import localstack  # noqa: F401  (the runtime is importable, not just a leftover dist-info)

sys.exit(0 if version("localstack-core") == sys.argv[1] else 1)
EOF
}

source "${repo_root}/scripts/tool-venv.sh"
ensure_tool_venv localstack-venv "$venv" "$python_bin" "${PINS[@]}"
