#!/usr/bin/env bash
# Set up, check that containers run, then run the main job in the foreground: the cluster (`kubelite up`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
kubelite run --rm --name hello busybox sh -c 'echo "runtime ok: hello from $(hostname), pid $$ in its own namespaces"'
exec kubelite up "$@"
