#!/usr/bin/env bash
# Set up, then run the linters and the whole test suite (as root: the tests run real containers).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
cd "$here"
.venv/bin/ruff check kubelite tests bench
.venv/bin/lint-imports
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
