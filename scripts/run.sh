#!/usr/bin/env bash
# Set up and run bucketdesk. With no bucket configured it starts the in-memory S3 sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
