"""Pods on a real single-node cluster (`kubelite up`), driven by the real kubectl.

What the containers saw is read back from a hostPath volume the test owns (the
streaming `kubectl logs`/`exec` path has tests of its own), so every check here
is of what a user's container actually gets.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.agent.nodecluster import NODE, NodeCluster
from tests.api.conftest import free_port

pytestmark = pytest.mark.root


@pytest.fixture
def out(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    os.chmod(d, 0o777)
    return d


def pod_yaml(name: str, command: str, out: Path | None = None, *, extra_spec: str = "", container_extra: str = "",
             restart: str = "Never", image: str = "busybox") -> str:
    mounts = vols = ""
    if out is not None:
        mounts = "    volumeMounts: [{name: out, mountPath: /out}]\n"
        vols = f"  volumes:\n  - name: out\n    hostPath: {{path: {out}}}\n"
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {NODE}\n"
            f"  restartPolicy: {restart}\n  terminationGracePeriodSeconds: 2\n{extra_spec}"
            f"  containers:\n  - name: main\n    image: {image}\n"
            f"    command: [sh, -c, {command!r}]\n{mounts}{container_extra}{vols}")


def status_of(c: NodeCluster, name: str) -> dict:  # type: ignore[type-arg]
    return c.pod(name)["status"]  # type: ignore[no-any-return]


def test_a_pod_runs_and_reports_status_and_events(cluster: NodeCluster) -> None:
    cluster.apply(pod_yaml("web", "sleep 1000", restart="Always"))
    p = cluster.wait_running_ready("web")
    st = p["status"]
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert "running" in cs["state"] and cs["containerID"].startswith("kubelite://")
    assert cs["imageID"].startswith("sha256:")
    assert st["qosClass"] == "BestEffort" and st["hostIP"] and st["startTime"]
    # metav1.Time: RFC 3339 in whole seconds, as Go clients write and some parse strictly
    for ts in (st["startTime"], cs["state"]["running"]["startedAt"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ts), ts
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                     "ContainersReady": "True", "PodScheduled": "True"}
    wide = cluster.ok("get", "pod", "web", "-o", "wide")
    assert "Running" in wide and NODE in wide and "1/1" in wide
    events = cluster.wait_for("events", lambda: (e := cluster.ok("get", "events", "--field-selector",
                                                                  "involvedObject.name=web")) and "Started" in e and e)
    assert "Created container main" in events and "already present on machine" in events
    node = cluster.json("get", "node", NODE)
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    assert int(node["status"]["capacity"]["cpu"]) == os.cpu_count()
    cluster.ok("delete", "pod", "web")
    assert "NotFound" in cluster.kubectl("get", "pod", "web").stderr


def test_exit_codes_decide_the_phase(cluster: NodeCluster) -> None:
    cluster.apply(pod_yaml("fails", "exit 3"))
    cluster.apply(pod_yaml("works", "true", restart="OnFailure"))
    st = cluster.wait_phase("fails", "Failed")["status"]
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    st = cluster.wait_phase("works", "Succeeded")["status"]
    assert st["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    cluster.ok("delete", "pod", "fails", "works")


def test_a_crashing_container_is_restarted_with_back_off(cluster: NodeCluster) -> None:
    cluster.apply(pod_yaml("crash", "echo boom; exit 1", restart="Always"))

    def crashloop() -> object:
        cs = status_of(cluster, "crash")["containerStatuses"][0]
        waiting = cs["state"].get("waiting") or {}
        return waiting.get("reason") == "CrashLoopBackOff" and cs
    cs = cluster.wait_for("CrashLoopBackOff", crashloop)
    assert cs["restartCount"] >= 1
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off 10s restarting failed container=main pod=crash_default" in cs["state"]["waiting"]["message"]
    assert status_of(cluster, "crash")["phase"] == "Running"
    assert "CrashLoopBackOff" in cluster.ok("get", "pod", "crash")
    cluster.ok("delete", "pod", "crash")


def test_config_and_secrets_reach_the_environment(cluster: NodeCluster, out: Path) -> None:
    cluster.ok("create", "configmap", "app-config", "--from-literal=mode=fast", "--from-literal=level=3")
    cluster.ok("create", "secret", "generic", "app-secret", "--from-literal=password=s3cr3t")
    extra = ("    env:\n    - {name: MODE, valueFrom: {configMapKeyRef: {name: app-config, key: mode}}}\n"
             "    - {name: PASS, valueFrom: {secretKeyRef: {name: app-secret, key: password}}}\n"
             "    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n"
             "    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}\n"
             "    - {name: GREETING, value: 'mode is $(MODE)'}\n"
             "    envFrom:\n    - {prefix: CFG_, configMapRef: {name: app-config}}\n")
    cluster.apply(pod_yaml("envpod", "env > /out/env", out, container_extra=extra))
    cluster.wait_phase("envpod", "Succeeded")
    env = dict(line.split("=", 1) for line in (out / "env").read_text().splitlines() if "=" in line)
    assert env["MODE"] == "fast" and env["PASS"] == "s3cr3t" and env["POD"] == "envpod" and env["NODE"] == NODE
    assert env["GREETING"] == "mode is fast" and env["CFG_level"] == "3"
    assert env["HOSTNAME"] == "envpod"
    cluster.ok("delete", "pod", "envpod")


def test_a_missing_config_map_is_a_config_error_until_it_exists(cluster: NodeCluster, out: Path) -> None:
    extra = "    env:\n    - {name: X, valueFrom: {configMapKeyRef: {name: later, key: x}}}\n"
    cluster.apply(pod_yaml("waits", "echo $X > /out/x", out, container_extra=extra))

    def config_error() -> object:
        w = status_of(cluster, "waits")["containerStatuses"][0]["state"].get("waiting") or {}
        return w.get("reason") == "CreateContainerConfigError" and w
    w = cluster.wait_for("CreateContainerConfigError", config_error)
    assert 'configmap "later" not found' in w["message"]
    cluster.ok("create", "configmap", "later", "--from-literal=x=hello")
    cluster.wait_phase("waits", "Succeeded")
    assert (out / "x").read_text() == "hello\n"
    cluster.ok("delete", "pod", "waits", "--wait=false")
    cluster.ok("delete", "configmap", "later")


def test_volumes_and_live_config_updates(cluster: NodeCluster, out: Path) -> None:
    cluster.ok("create", "configmap", "live", "--from-literal=color=red")
    cluster.ok("create", "secret", "generic", "token", "--from-literal=t=abc")
    spec = ("  volumes:\n  - name: cfg\n    configMap: {name: live}\n  - name: sec\n    secret: {secretName: token}\n"
            "  - name: scratch\n    emptyDir: {medium: Memory}\n  - name: out\n    hostPath: {path: " + str(out) + "}\n")
    manifest = (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: vols}}\nspec:\n  nodeName: {NODE}\n"
                f"  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: busybox\n"
                f"    command: [sh, -c, 'cat /sec/t > /out/token; grep -c tmpfs /proc/mounts > /out/tmpfs; "
                f"echo x > /scratch/x && echo ok > /out/scratch; "
                f"while true; do cat /cfg/color > /out/color.tmp; mv /out/color.tmp /out/color; sleep 0.2; done']\n"
                f"    volumeMounts:\n    - {{name: cfg, mountPath: /cfg}}\n    - {{name: sec, mountPath: /sec}}\n"
                f"    - {{name: scratch, mountPath: /scratch}}\n    - {{name: out, mountPath: /out}}\n{spec}")
    cluster.apply(manifest)
    cluster.wait_running_ready("vols")
    cluster.wait_for("first color", lambda: (out / "color").exists() and (out / "color").read_text() == "red")
    assert (out / "token").read_text() == "abc" and (out / "scratch").read_text() == "ok\n"
    cluster.ok("patch", "configmap", "live", "-p", '{"data":{"color":"blue"}}')
    cluster.wait_for("updated color", lambda: (out / "color").read_text() == "blue", timeout=60)
    pod = cluster.pod("vols")
    secret_mount = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                    if pod["metadata"]["uid"] in line and "secret" in line]
    assert secret_mount and all(" tmpfs " in line for line in secret_mount), secret_mount
    cluster.ok("delete", "pod", "vols")
    assert not [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                if pod["metadata"]["uid"] in line]
    cluster.ok("delete", "configmap", "live")
    cluster.ok("delete", "secret", "token")


def test_init_containers_run_in_order_before_the_app(cluster: NodeCluster, out: Path) -> None:
    manifest = f"""apiVersion: v1
kind: Pod
metadata: {{name: inits}}
spec:
  nodeName: {NODE}
  restartPolicy: Never
  initContainers:
  - {{name: one, image: busybox, command: [sh, -c, 'echo one >> /out/order'], volumeMounts: [{{name: out, mountPath: /out}}]}}
  - {{name: two, image: busybox, command: [sh, -c, 'echo two >> /out/order'], volumeMounts: [{{name: out, mountPath: /out}}]}}
  containers:
  - {{name: app, image: busybox, command: [sh, -c, 'echo app >> /out/order'], volumeMounts: [{{name: out, mountPath: /out}}]}}
  volumes:
  - name: out
    hostPath: {{path: {out}}}
"""
    cluster.apply(manifest)
    st = cluster.wait_phase("inits", "Succeeded")["status"]
    assert (out / "order").read_text().split() == ["one", "two", "app"]
    assert [s["state"]["terminated"]["reason"] for s in st["initContainerStatuses"]] == ["Completed", "Completed"]
    cluster.ok("delete", "pod", "inits")


def test_a_failing_init_container_fails_a_never_restart_pod(cluster: NodeCluster) -> None:
    manifest = f"""apiVersion: v1
kind: Pod
metadata: {{name: badinit}}
spec:
  nodeName: {NODE}
  restartPolicy: Never
  initContainers:
  - {{name: setup, image: busybox, command: [sh, -c, 'exit 7']}}
  containers:
  - {{name: app, image: busybox, command: [sleep, '1000']}}
"""
    cluster.apply(manifest)
    st = cluster.wait_phase("badinit", "Failed")["status"]
    assert st["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 7
    assert "running" not in st["containerStatuses"][0]["state"]
    cluster.ok("delete", "pod", "badinit")


def test_resources_become_cgroup_limits_and_qos(cluster: NodeCluster) -> None:
    extra = "    resources:\n      limits: {cpu: 500m, memory: 64Mi}\n"
    cluster.apply(pod_yaml("limited", "sleep 1000", container_extra=extra, restart="Always"))
    p = cluster.wait_running_ready("limited")
    assert p["status"]["qosClass"] == "Guaranteed"
    uid = p["metadata"]["uid"]
    mem = Path(f"/sys/fs/cgroup/memory/kubelite/pods/pod{uid}/main-0/memory.limit_in_bytes")
    if mem.exists():  # cgroup v1 (this machine); v2 has its own runtime tests
        assert int(mem.read_text()) == 64 * 1024 * 1024
        quota = Path(f"/sys/fs/cgroup/cpu/kubelite/pods/pod{uid}/main-0/cpu.cfs_quota_us").read_text()
        assert int(quota) == 50000
    cluster.ok("delete", "pod", "limited")
    assert not Path(f"/sys/fs/cgroup/memory/kubelite/pods/pod{uid}").exists()


def test_out_of_memory_shows_as_oom_killed(cluster: NodeCluster) -> None:
    extra = "    resources:\n      limits: {memory: 16Mi}\n"
    cluster.apply(pod_yaml("hog", "tail /dev/zero", container_extra=extra))
    st = cluster.wait_phase("hog", "Failed")["status"]
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137
    cluster.ok("delete", "pod", "hog")


def test_a_missing_image_is_an_image_pull_error(cluster: NodeCluster) -> None:
    cluster.apply(pod_yaml("noimage", "true", image="example.com/none:1"))

    def pull_error() -> object:
        w = status_of(cluster, "noimage")["containerStatuses"][0]["state"].get("waiting") or {}
        return w.get("reason") in ("ErrImagePull", "ImagePullBackOff") and w
    w = cluster.wait_for("ErrImagePull", pull_error)
    assert "example.com/none:1" in w["message"]
    assert status_of(cluster, "noimage")["phase"] == "Pending"
    cluster.ok("delete", "pod", "noimage")


def test_security_context(cluster: NodeCluster, out: Path) -> None:
    sc = ("    securityContext:\n      runAsUser: 1000\n      runAsGroup: 1000\n      readOnlyRootFilesystem: true\n"
          "      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL]}\n")
    cluster.apply(pod_yaml("secure", "id -u > /out/uid; id -g > /out/gid; touch /x 2> /out/ro; "
                           "grep -E 'CapEff|NoNewPrivs' /proc/self/status > /out/status", out, container_extra=sc))
    cluster.wait_phase("secure", "Succeeded")
    assert (out / "uid").read_text() == "1000\n" and (out / "gid").read_text() == "1000\n"
    assert "Read-only file system" in (out / "ro").read_text()
    status = (out / "status").read_text()
    assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
    cluster.ok("delete", "pod", "secure")
    cluster.apply(pod_yaml("nonroot", "true", extra_spec="  securityContext: {runAsNonRoot: true}\n"))

    def refused() -> object:
        w = status_of(cluster, "nonroot")["containerStatuses"][0]["state"].get("waiting") or {}
        return w.get("reason") == "CreateContainerConfigError" and w
    assert "runAsNonRoot and image will run as root" in cluster.wait_for("refusal", refused)["message"]
    cluster.ok("delete", "pod", "nonroot")


def test_deleting_a_pod_stops_it_gracefully_and_removes_every_trace(cluster: NodeCluster, out: Path) -> None:
    cluster.apply(pod_yaml("graceful", "trap 'echo term > /out/signal; exit 0' TERM; "
                           "while true; do sleep 0.1; done", out, restart="Always"))
    p = cluster.wait_running_ready("graceful")
    uid = p["metadata"]["uid"]
    cluster.ok("delete", "pod", "graceful")
    assert (out / "signal").read_text() == "term\n"
    mountinfo = Path("/proc/self/mountinfo").read_text()
    assert uid not in mountinfo
    assert not Path(f"/sys/fs/cgroup/pids/kubelite/pods/pod{uid}").exists()
    assert not list(Path(cluster.env["KUBELITE_STATE"]).glob(f"sandboxes/{uid}"))


def test_the_agent_restarts_without_restarting_pods(cluster: NodeCluster, tmp_path: Path) -> None:
    cluster.apply(pod_yaml("survivor", "sleep 1000", restart="Always"))
    before = cluster.wait_running_ready("survivor")["status"]["containerStatuses"][0]
    # Stop the whole `kubelite up` (server and agent) and start it again on the same data.
    from tests.agent.nodecluster import start_node_cluster as start

    cluster.proc.send_signal(15)
    assert cluster.proc.wait(timeout=30) == 0
    again = start(cluster.base)
    cluster.proc, cluster.port = again.proc, again.port
    after = cluster.wait_running_ready("survivor")["status"]["containerStatuses"][0]
    assert after["containerID"] == before["containerID"] and after["restartCount"] == 0
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]
    cluster.ok("delete", "pod", "survivor")
    time.sleep(0)


def test_host_network_pods_share_the_node_network(cluster: NodeCluster, out: Path) -> None:
    cluster.apply(pod_yaml("hostnet", "ip -o link | wc -l > /out/links; hostname > /out/hostname; "
                           "cat /etc/hostname > /out/etc-hostname; cat /etc/hosts > /out/etc-hosts", out,
                           extra_spec="  hostNetwork: true\n  hostAliases: [{ip: 10.9.8.7, hostnames: [mirror]}]\n"))
    cluster.wait_phase("hostnet", "Succeeded")
    host_links = len(subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines())
    assert int((out / "links").read_text()) == host_links
    assert (out / "hostname").read_text().strip() == os.uname().nodename
    assert (out / "etc-hostname").read_text().strip() == os.uname().nodename
    hosts = (out / "etc-hosts").read_text()
    assert "host network" in hosts and "10.9.8.7\tmirror" in hosts
    for line in Path("/etc/hosts").read_text().splitlines():
        assert line in hosts.splitlines()
    cluster.ok("delete", "pod", "hostnet")


def test_a_pods_containers_share_its_hostname_and_hosts_files(cluster: NodeCluster, out: Path) -> None:
    two = ("  - name: second\n    image: busybox\n"
           "    command: [sh, -c, 'cat /etc/hostname > /out/second-hostname; cat /etc/hosts > /out/second-hosts']\n"
           "    volumeMounts: [{name: out, mountPath: /out}]\n")
    y = pod_yaml("sharer", "cat /etc/hostname > /out/hostname; cat /etc/hosts > /out/hosts", out,
                 extra_spec="  hostname: shared-name\n  hostAliases: [{ip: 10.1.2.3, hostnames: [db, db.local]}]\n")
    cluster.apply(y.replace("  volumes:\n", two + "  volumes:\n"))
    cluster.wait_phase("sharer", "Succeeded")
    assert (out / "hostname").read_text() == (out / "second-hostname").read_text() == "shared-name\n"
    hosts = (out / "hosts").read_text()
    assert hosts == (out / "second-hosts").read_text()
    assert "127.0.1.1\tshared-name" in hosts and "10.1.2.3\tdb db.local" in hosts
    cluster.ok("delete", "pod", "sharer")


def test_kubectl_logs_exec_and_port_forward_reach_the_pod(cluster: NodeCluster, out: Path) -> None:
    cluster.apply(pod_yaml("talk", "echo run >> /out/runs; echo hello from $HOSTNAME; "
                           "if [ $(wc -l < /out/runs) -lt 2 ]; then exit 1; fi; exec httpd -f -p 8080 -h /out",
                           out, restart="Always"))

    def restarted_and_ready() -> object:
        p = cluster.pod("talk")
        cs = p["status"]["containerStatuses"][0]
        return cs["restartCount"] == 1 and cs["ready"] and p
    cluster.wait_for("one restart, then running", restarted_and_ready)
    assert cluster.ok("logs", "talk") == "hello from talk\n"
    assert cluster.ok("logs", "talk", "--previous") == "hello from talk\n"
    r = cluster.kubectl("exec", "talk", "--", "sh", "-c", "cat /out/runs; exit 4")
    assert r.returncode == 4 and r.stdout == "run\nrun\n"
    (out / "index.html").write_text("served from the pod\n")
    port = free_port()
    pf = subprocess.Popen([*cluster.argv, "port-forward", "pod/talk", f"{port}:8080"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        import urllib.request

        body = cluster.wait_for("port-forward", lambda: _get(urllib.request, port))
        assert body == "served from the pod\n"
    finally:
        pf.terminate()
        pf.wait(10)
    cluster.ok("delete", "pod", "talk")


def _get(urllib_request: object, port: int) -> str:
    try:
        with urllib_request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:  # type: ignore[attr-defined]
            return str(r.read().decode())
    except OSError:
        return ""


def test_pull_policy_never_and_sidecars(cluster: NodeCluster, out: Path) -> None:
    cluster.apply(pod_yaml("neverpull", "true", image="example.com/absent:2",
                           container_extra="    imagePullPolicy: Never\n"))

    def never() -> object:
        w = status_of(cluster, "neverpull")["containerStatuses"][0]["state"].get("waiting") or {}
        return w.get("reason") == "ErrImageNeverPull" and w
    assert "is not present with pull policy of Never" in cluster.wait_for("ErrImageNeverPull", never)["message"]
    cluster.ok("delete", "pod", "neverpull")
    manifest = f"""apiVersion: v1
kind: Pod
metadata: {{name: sidecar}}
spec:
  nodeName: {NODE}
  terminationGracePeriodSeconds: 1
  initContainers:
  - {{name: side, image: busybox, restartPolicy: Always, command: [sh, -c, 'echo side >> /out/order; sleep 100000'],
     volumeMounts: [{{name: out, mountPath: /out}}]}}
  containers:
  - {{name: app, image: busybox, command: [sh, -c, 'echo app >> /out/order; sleep 100000'],
     volumeMounts: [{{name: out, mountPath: /out}}]}}
  volumes:
  - name: out
    hostPath: {{path: {out}}}
"""
    cluster.apply(manifest)
    p = cluster.wait_running_ready("sidecar")
    assert (out / "order").read_text().split() == ["side", "app"]
    init = p["status"]["initContainerStatuses"][0]
    assert "running" in init["state"] and init["ready"]
    cluster.ok("delete", "pod", "sidecar")


def test_a_killed_container_is_restarted(cluster: NodeCluster) -> None:
    cluster.apply(pod_yaml("victim", "exec sleep 424242", restart="Always"))
    cluster.wait_running_ready("victim")
    pids = subprocess.run(["pgrep", "-f", "sleep 424242"], capture_output=True, text=True).stdout.split()
    assert len(pids) == 1
    os.kill(int(pids[0]), 9)

    def restarted() -> object:
        cs = status_of(cluster, "victim")["containerStatuses"][0]
        return cs["restartCount"] == 1 and "running" in cs["state"] and cs
    cs = cluster.wait_for("the restart", restarted)
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    cluster.ok("delete", "pod", "victim")
