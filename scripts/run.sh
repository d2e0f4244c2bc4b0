#!/usr/bin/env bash
# Set up and run bucketdesk. With no bucket configured it starts the in-memory S3 sandbox.
# Without [auth] (no sign-in: everyone who reaches the app acts as you) it serves 127.0.0.1 only,
# unless you ask for another address: BUCKETDESK_SERVER_ADDRESS=0.0.0.0 or --server.address.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
bind_line="$(.venv/bin/python -m lib.signin bind-args "$@")"
read -r -a bind <<<"$bind_line"
exec .venv/bin/python -m streamlit run streamlit_app.py "${bind[@]}" "$@"
