"""Container start benchmark: the same busybox `true` bundle run N times by kubelite, runc and crun.

Each sample is one whole container life as `runc run` does it: create, start,
wait for exit, delete. kubelite is measured twice: from a warm process (the
runtime library called in a long-lived interpreter, as the shim and the agent
use it) and as the one-shot `kubelite oci run` command. crun refuses this
machine's hybrid cgroups, so it runs in a private mount namespace with cgroup2
mounted at /sys/fs/cgroup; there it wants to raise RLIMIT_MEMLOCK for its eBPF device filter, which this
sandbox's root may not (no CAP_SYS_RESOURCE), so it runs with --cgroup-manager=disabled: it skips the cgroup
work the others do, which flatters crun a little.

    .venv/bin/python bench/runtime_start.py [-n 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kubelite.runtime import spec as oci  # noqa: E402
from kubelite.runtime import syscalls  # noqa: E402
from kubelite.runtime.container import Runtime  # noqa: E402


def make_bundle(root: Path) -> Path:
    bundle = root / "bundle"
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for d in ("proc", "sys", "dev", "etc", "tmp"):
        (rootfs / d).mkdir()
    shutil.copy2(shutil.which("busybox") or "/bin/busybox", rootfs / "bin" / "busybox")
    os.symlink("busybox", rootfs / "bin" / "true")
    os.symlink("busybox", rootfs / "bin" / "sh")
    spec = oci.default_spec(["/bin/true"])
    spec["process"]["terminal"] = False
    (bundle / "config.json").write_text(json.dumps(spec, indent=1))
    return bundle


def time_cmd(argv: list[str], n: int) -> list[float]:
    out = []
    for i in range(n):
        cmd = [a.replace("{i}", str(i)) for a in argv]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return out


def time_warm(bundle: Path, state: Path, n: int) -> list[float]:
    syscalls.set_subreaper()
    rt = Runtime(state)
    spec = oci.load_bundle(bundle)
    out = []
    for i in range(n + 3):
        cid = f"bench-warm-{i}"
        t = time.perf_counter()
        st, _ = rt.create(cid, bundle, spec=spec, wait_start=False)
        os.waitpid(st.pid, 0)
        rt.delete(cid, force=True)
        if i >= 3:  # the first runs pay for lazy imports and page faults
            out.append(time.perf_counter() - t)
    return out


def crun_in_private_ns(bundle: Path, state: Path, n: int) -> list[float]:
    script = (
        "import json,subprocess,sys,time\n"
        "subprocess.run(['mount','-t','cgroup2','none','/sys/fs/cgroup'],check=True)\n"
        f"out=[]\nfor i in range({n}):\n"
        "    t=time.perf_counter()\n"
        f"    subprocess.run(['crun','--cgroup-manager=disabled','--root','{state}','run','--bundle','{bundle}',f'bench-crun-{{i}}'],check=True,"
        "stdin=subprocess.DEVNULL)\n"
        "    out.append(time.perf_counter()-t)\n"
        "print(json.dumps(out))\n"
    )
    res = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", script],
                         check=True, capture_output=True, text=True)
    return list(json.loads(res.stdout))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/runtime_start.py needs root")
    tmp = Path(tempfile.mkdtemp(prefix="kubelite-bench-"))
    try:
        bundle = make_bundle(tmp)
        results: dict[str, list[float]] = {}
        kubelite = str(HERE.parent / ".venv" / "bin" / "kubelite-fast")
        results["runc"] = time_cmd(["runc", "--root", str(tmp / "runc"), "run", "--bundle", str(bundle),
                                    "bench-runc-{i}"], args.n)
        if shutil.which("crun"):
            results["crun"] = crun_in_private_ns(bundle, tmp / "crun", args.n)
        results["kubelite (warm process)"] = time_warm(bundle, tmp / "warm", args.n)
        results["kubelite oci run (CLI)"] = time_cmd([kubelite, "oci", "--root", str(tmp / "cli"), "run",
                                                      "--bundle", str(bundle), "bench-cli-{i}"], args.n)
        med = {k: statistics.median(v) * 1000 for k, v in results.items()}
        p90 = {k: sorted(v)[int(len(v) * 0.9) - 1] * 1000 for k, v in results.items()}
        print(f"container start, busybox true, {args.n} runs each (create+start+wait+delete)")
        print(f"{'runtime':28} {'median ms':>10} {'p90 ms':>9} {'vs runc':>8} {'vs crun':>8}")
        for k in results:
            vs_runc = med[k] / med["runc"]
            vs_crun = med[k] / med["crun"] if "crun" in med else float("nan")
            print(f"{k:28} {med[k]:10.2f} {p90[k]:9.2f} {vs_runc:8.2f} {vs_crun:8.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
