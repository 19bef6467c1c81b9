"""OCI lifecycle hooks: programs the spec asks the runtime to run at fixed points.

Each hook gets the container's state JSON on stdin, runs with its own path,
args, env and optional timeout, in the runtime's namespaces (the hooks that
run inside the container's namespaces, createContainer and startContainer,
are not supported yet). A failing createRuntime/prestart hook fails the
create; a failing poststart or poststop hook is only reported, as the spec
says.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from kubelite.errors import SystemFailure

CREATE_HOOKS = ("prestart", "createRuntime")


def run_hooks(spec: dict[str, Any], phase: str, state: dict[str, Any], fatal: bool = True) -> None:
    for hook in spec.get("hooks", {}).get(phase, []) or []:
        path = hook.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise SystemFailure(f"{phase} hook: path must be absolute: {path!r}")
        args = hook.get("args") or [path]
        env = dict(e.partition("=")[::2] for e in hook.get("env", []))
        try:
            res = subprocess.run([path, *args[1:]], executable=path, input=json.dumps(state).encode(),
                                 env=env, capture_output=True, timeout=hook.get("timeout"))
        except (OSError, subprocess.TimeoutExpired) as e:
            if fatal:
                raise SystemFailure(f"{phase} hook {path} failed: {e}") from None
            continue
        if res.returncode != 0 and fatal:
            detail = res.stderr.decode(errors="replace").strip().splitlines()
            raise SystemFailure(f"{phase} hook {path} exited with {res.returncode}"
                                + (f": {detail[-1]}" if detail else ""))
