#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine as root: Debian packages, the
# project's virtual environment, the `kubelite` command on PATH and the default
# busybox image. Every other script sources this first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "$(id -u)" -ne 0 ]; then
  echo "kubelite set-up needs root (namespaces, cgroups, mounts): run it as root" >&2
  exit 1
fi

debs=(python3 python3-venv python3-dev gcc busybox-static runc crun skopeo umoci
      iptables nftables etcd-server etcd-client docker-registry containernetworking-plugins
      iproute2 util-linux procps)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these as services on install; kubelite and its tests start their own.
  for svc in etcd docker-registry; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
fi

venv="$here/.venv"
stamp="$venv/.installed-$(sha256sum "$here/pyproject.toml" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  log="$(mktemp)"
  if ! { "$venv/bin/pip" install -q --upgrade pip && "$venv/bin/pip" install -q -e "$here[dev]"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
# The command on PATH starts the interpreter without site (-IS): site and the editable-install hooks cost
# ~40 ms per call here, and the runtime's commands need nothing outside the standard library. Commands that
# need third-party packages load site themselves (kubelite.cli.main.load_site_packages). `kubelite oci`
# goes through a warm fork server (kubelite/cli/forkserver.py).
launcher="$venv/bin/kubelite-fast"
cat > "$launcher.tmp" <<EOS
#!$venv/bin/python -IS
import sys
sys.path.insert(0, "$here")
from kubelite.cli.forkserver import launch
launch()
EOS
chmod 755 "$launcher.tmp"
mv "$launcher.tmp" "$launcher"
ln -sf "$launcher" /usr/local/bin/kubelite
# Precompiled bytecode: a one-shot `kubelite` command must not recompile the package on every run, even
# where PYTHONDONTWRITEBYTECODE is set.
"$venv/bin/python" -m compileall -q "$here/kubelite" >/dev/null

"$venv/bin/kubelite" image ensure-default >/dev/null
