#!/usr/bin/env bash
# Set up, then run the main job: a container from the default busybox image.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
exec kubelite run --rm --name hello busybox sh -c 'echo "hello from $(hostname), pid $$ in its own namespaces"; cat /etc/os-release 2>/dev/null; uname -a'
