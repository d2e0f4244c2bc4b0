# Sourced by scripts/*-venv.sh: make sure a tool's own virtualenv is installed, then print a path.
#
#   is_ready() { ...; }   # the caller's check: true when the pinned tool is there and runs
#   ensure_tool_venv LABEL VENV PRINTED_PATH PIP_REQUIREMENT...
#
# Idempotent and quick when is_ready already holds. Two jobs sharing a checkout take turns (flock).
# Only PRINTED_PATH goes to stdout; progress and errors go to stderr.

ensure_tool_venv() {
  local label="$1" venv="$2" printed="$3"
  shift 3
  if is_ready; then
    echo "$printed"
    return 0
  fi
  mkdir -p "$(dirname "$venv")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${venv}.lock"
    flock 9
    if is_ready; then  # the other job finished it while we waited
      echo "$printed"
      return 0
    fi
  fi
  if [ ! -x "${venv}/bin/python" ]; then
    local base_python="${PYTHON:-python3}"
    echo "${label}: creating ${venv} with $("$base_python" --version 2>&1)" >&2
    if ! "$base_python" -m venv "$venv" >&2; then
      echo "${label}: '$base_python -m venv' failed; on Debian/Ubuntu install python3-venv." >&2
      return 1
    fi
  fi
  echo "${label}: installing $* into ${venv}" >&2
  "${venv}/bin/python" -m pip install --disable-pip-version-check --quiet "$@" >&2
  if ! is_ready; then
    echo "${label}: installed, but ${printed} still fails its check (is_ready in scripts/${label}.sh)." >&2
    return 1
  fi
  echo "$printed"
}
