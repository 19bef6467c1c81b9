"""Acceptance sweep of issue 3: every kubectl command and Python-client call it lists, as a user types them.

One real server per store driver for the whole module (the ``cluster`` fixture);
each test uses its own object names, so the tests do not depend on each other.
Assertions are on what the user sees: kubectl's output and exit status, the
client's objects and exceptions, the HTTP status and ``metav1.Status`` of the
error cases. Nothing here may ever see a 500.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

from tests.api.conftest import Cluster

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {app}, tier: {tier}}}
spec:
  containers:
  - name: main
    image: nginx:1.27
"""

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: {image}
"""

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels: {{suite: acceptance}}
data:
  key: "{value}"
"""

SVC = """apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {app}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""

NODE = """apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{kubernetes.io/hostname: {name}}}
"""


def lines(out: str) -> list[list[str]]:
    return [ln.split() for ln in out.strip().splitlines()]


def bind(cluster: Cluster, pod: str, node: str) -> None:
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod}, "target": {"kind": "Node", "name": node}}
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        client.CoreV1Api(api).create_namespaced_pod_binding(pod, "default", body, _preload_content=False)
    finally:
        api.close()


def set_phase(cluster: Cluster, pod: str, phase: str) -> None:
    cluster.ok("patch", "pod", pod, "--subresource=status", "--type=merge", "-p",
               json.dumps({"status": {"phase": phase}}))


# -- apply, create, get -------------------------------------------------------------------------------------------


def test_apply_client_side_and_server_side(cluster: Cluster) -> None:
    out = cluster.ok("apply", "-f", "-", input=DEPLOY.format(name="acc-web", replicas=1, image="nginx:1.26"))
    assert out.strip() == "deployment.apps/acc-web created"
    again = cluster.ok("apply", "-f", "-", input=DEPLOY.format(name="acc-web", replicas=1, image="nginx:1.26"))
    assert again.strip() == "deployment.apps/acc-web unchanged"
    changed = cluster.ok("apply", "-f", "-", input=DEPLOY.format(name="acc-web", replicas=2, image="nginx:1.27"))
    assert changed.strip() == "deployment.apps/acc-web configured"
    got = cluster.json("get", "deploy", "acc-web")
    assert got["spec"]["replicas"] == 2  # type: ignore[index]
    assert got["metadata"]["generation"] == 2  # type: ignore[index]
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]  # type: ignore[index]

    ssa = cluster.ok("apply", "--server-side", "-f", "-", input=CM.format(name="acc-ssa", value="1"))
    assert ssa.strip() == "configmap/acc-ssa serverside-applied"
    cluster.ok("apply", "--server-side", "-f", "-", input=CM.format(name="acc-ssa", value="2"))
    obj = cluster.json("get", "cm", "acc-ssa", "--show-managed-fields")
    assert obj["data"] == {"key": "2"}
    managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}  # type: ignore[index]
    assert ("kubectl", "Apply") in managers
    # another manager owning the field: conflict, then --force-conflicts takes it over
    cluster.ok("patch", "cm", "acc-ssa", "--type=merge", "-p", '{"data":{"key":"theirs"}}', "--field-manager=other")
    err = cluster.fail("apply", "--server-side", "-f", "-", input=CM.format(name="acc-ssa", value="3"))
    assert "conflict" in err.lower() and "other" in err
    cluster.ok("apply", "--server-side", "--force-conflicts", "-f", "-", input=CM.format(name="acc-ssa", value="3"))
    assert cluster.ok("get", "cm", "acc-ssa", "-o", "jsonpath={.data.key}") == "3"
    # client-side applied object moved to server-side apply
    up = cluster.ok("apply", "--server-side", "-f", "-", input=DEPLOY.format(name="acc-web", replicas=3,
                                                                             image="nginx:1.27"))
    assert "serverside-applied" in up
    assert cluster.ok("get", "deploy", "acc-web", "-o", "jsonpath={.spec.replicas}") == "3"
    # apply of a directory of files, then dry runs touch nothing
    out = cluster.ok("apply", "--dry-run=server", "-f", "-", input=CM.format(name="acc-ssa", value="9"))
    assert "(server dry run)" in out
    assert cluster.ok("get", "cm", "acc-ssa", "-o", "jsonpath={.data.key}") == "3"


def test_create_and_every_get_output(cluster: Cluster) -> None:
    docs = POD.format(name="acc-p1", app="acc", tier="front") + "---\n" + POD.format(name="acc-p2", app="acc",
                                                                                     tier="back")
    out = cluster.ok("create", "-f", "-", input=docs)
    assert out.split("\n")[:2] == ["pod/acc-p1 created", "pod/acc-p2 created"]
    assert "AlreadyExists" in cluster.fail("create", "-f", "-", input=POD.format(name="acc-p1", app="acc", tier="x"))

    table = lines(cluster.ok("get", "pods", "-l", "app=acc"))
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [r[:3] for r in table[1:]] == [["acc-p1", "0/1", "Pending"], ["acc-p2", "0/1", "Pending"]]
    wide = lines(cluster.ok("get", "pod", "acc-p1", "-o", "wide"))
    assert wide[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS",
                       "GATES"]
    assert wide[1][0] == "acc-p1" and wide[1][-4:] == ["<none>"] * 4
    as_yaml = yaml.safe_load(cluster.ok("get", "pod", "acc-p1", "-o", "yaml"))
    assert as_yaml["kind"] == "Pod" and as_yaml["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert as_yaml["spec"]["restartPolicy"] == "Always"  # defaulted
    as_json = cluster.json("get", "pods", "-l", "app=acc")
    assert as_json["kind"] == "List" and len(as_json["items"]) == 2  # type: ignore[arg-type]
    path = cluster.ok("get", "pods", "-l", "app=acc", "-o", "jsonpath={range .items[*]}{.metadata.name}:"
                      "{.metadata.labels.tier} {end}")
    assert path.split() == ["acc-p1:front", "acc-p2:back"]
    assert cluster.ok("get", "pods", "-l", "tier=back", "-o", "name").split() == ["pod/acc-p2"]
    assert cluster.ok("get", "pods", "-l", "app=acc,tier notin (back)", "-o", "name").split() == ["pod/acc-p1"]
    assert cluster.ok("get", "pods", "-l", "app=nobody").strip() == ""
    shown = lines(cluster.ok("get", "pods", "-l", "app=acc", "--show-labels"))
    assert shown[0][-1] == "LABELS" and shown[1][-1] == "app=acc,tier=front"
    every = lines(cluster.ok("get", "pods", "-A", "-l", "app=acc"))
    assert every[0][:2] == ["NAMESPACE", "NAME"] and every[1][:2] == ["default", "acc-p1"]
    cluster.ok("create", "namespace", "acc-other")
    cluster.ok("-n", "acc-other", "create", "-f", "-", input=POD.format(name="acc-p3", app="acc", tier="front"))
    every = lines(cluster.ok("get", "pods", "-A", "-l", "app=acc", "--no-headers"))
    assert sorted((r[0], r[1]) for r in every) == [("acc-other", "acc-p3"), ("default", "acc-p1"),
                                                   ("default", "acc-p2")]
    assert cluster.ok("get", "pods", "--all-namespaces", "--field-selector", "metadata.namespace=acc-other",
                      "-o", "name").split() == ["pod/acc-p3"]
    cluster.ok("get", "pods", "--field-selector", "status.phase=Pending,spec.nodeName=", "-l", "app=acc")
    many = cluster.ok("get", "pods,cm", "-l", "app=acc", "-o", "name")
    assert many.split() == ["pod/acc-p1", "pod/acc-p2"]
    assert cluster.ok("get", "pods", "--chunk-size=1", "-l", "app=acc", "-o", "name").split() == ["pod/acc-p1",
                                                                                                   "pod/acc-p2"]
    cluster.ok("delete", "ns", "acc-other", "--wait=false")  # Terminating: no namespace controller here


def test_get_watch_prints_table_rows(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=CM.format(name="acc-w", value="1"))
    proc = subprocess.Popen([*cluster.argv, "get", "cm", "acc-w", "-w"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["NAME", "DATA", "AGE"]
        assert proc.stdout.readline().split()[:2] == ["acc-w", "1"]
        time.sleep(0.3)
        cluster.ok("patch", "cm", "acc-w", "--type=merge", "-p", '{"data":{"two":"2"}}')
        assert proc.stdout.readline().split()[:2] == ["acc-w", "2"]
    finally:
        proc.kill()
        proc.wait()
    out = subprocess.run([*cluster.argv, "get", "cm", "-w", "--output-watch-events",
                          "--request-timeout=2s", "-l", "suite=acceptance"],
                         capture_output=True, text=True, timeout=30)
    rows = lines(out.stdout)
    assert rows[0] == ["EVENT", "NAME", "DATA", "AGE"]
    assert ["ADDED", "acc-w"] in [r[:2] for r in rows[1:]]


# -- describe ---------------------------------------------------------------------------------------------------


def test_describe_every_kind_with_events(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input=NODE.format(name="acc-node"))
    cluster.ok("create", "-f", "-", input=POD.format(name="acc-d", app="acc-d", tier="x"))
    bind(cluster, "acc-d", "acc-node")
    uid = cluster.ok("get", "pod", "acc-d", "-o", "jsonpath={.metadata.uid}")
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "acc-d.1"}, "type": "Warning",
             "reason": "BackOff", "message": "Back-off restarting failed container",
             "involvedObject": {"kind": "Pod", "namespace": "default", "name": "acc-d", "uid": uid,
                                "apiVersion": "v1"},
             "source": {"component": "kubelet", "host": "acc-node"}, "count": 3,
             "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:01:00Z"}
    cluster.ok("create", "-f", "-", input=json.dumps(event))
    pod = cluster.ok("describe", "pod", "acc-d")
    assert "Name:" in pod and "acc-d" in pod and "Node:" in pod and "acc-node" in pod
    assert "Containers:" in pod and "nginx:1.27" in pod
    assert "Events:" in pod and "BackOff" in pod and "Back-off restarting failed container" in pod

    cluster.ok("apply", "-f", "-", input=DEPLOY.format(name="acc-dd", replicas=2, image="nginx:1.27"))
    dep = cluster.ok("describe", "deployment", "acc-dd")
    assert "Replicas:" in dep and "2 desired" in dep and "StrategyType:" in dep and "RollingUpdate" in dep
    ns = cluster.ok("describe", "namespace", "default")
    assert "Status:" in ns and "Active" in ns
    cluster.ok("create", "-f", "-", input=CM.format(name="acc-dcm", value="hello"))
    cm = cluster.ok("describe", "configmap", "acc-dcm")
    assert "key:" in cm and "hello" in cm
    cluster.ok("create", "-f", "-", input=SVC.format(name="acc-dsvc", app="acc-d"))
    svc = cluster.ok("describe", "service", "acc-dsvc")
    assert "Type:" in svc and "ClusterIP" in svc and "80/TCP" in svc and "8080/TCP" in svc
    node = cluster.ok("describe", "node", "acc-node")
    assert "Name:" in node and "acc-node" in node and "Non-terminated Pods:" in node and "acc-d" in node
    many = cluster.ok("describe", "pods", "-l", "app=acc-d")
    assert "acc-d" in many and "BackOff" in many


# -- label, annotate, patch, edit, replace -----------------------------------------------------------------------


def test_label_and_annotate(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=CM.format(name="acc-l", value="1"))
    assert cluster.ok("label", "cm", "acc-l", "color=red").strip() == "configmap/acc-l labeled"
    err = cluster.fail("label", "cm", "acc-l", "color=blue")
    assert "already has a value (red)" in err and "--overwrite" in err
    cluster.ok("label", "cm", "acc-l", "color=blue", "--overwrite")
    assert cluster.ok("get", "cm", "-l", "color=blue", "-o", "name").split() == ["configmap/acc-l"]
    cluster.ok("label", "cm", "acc-l", "color-")
    assert cluster.ok("get", "cm", "-l", "color", "-o", "name").strip() == ""
    assert "Invalid value" in cluster.fail("label", "cm", "acc-l", "bad key!=x")
    assert cluster.ok("annotate", "cm", "acc-l", "note=first").strip() == "configmap/acc-l annotated"
    cluster.ok("annotate", "cm", "acc-l", "note=second", "--overwrite")
    assert cluster.ok("get", "cm", "acc-l", "-o", "jsonpath={.metadata.annotations.note}") == "second"
    cluster.ok("annotate", "cm", "acc-l", "note-")
    assert "note" not in cluster.ok("get", "cm", "acc-l", "-o", "jsonpath={.metadata.annotations}")
    cluster.ok("label", "cm", "-l", "suite=acceptance", "bulk=yes")
    assert "configmap/acc-l" in cluster.ok("get", "cm", "-l", "bulk=yes", "-o", "name").split()


def test_patch_every_type(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input=DEPLOY.format(name="acc-pt", replicas=1, image="nginx:1.26"))
    # strategic merge (the default): containers merge by name
    out = cluster.ok("patch", "deploy", "acc-pt", "-p",
                     '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}')
    assert out.strip() == "deployment.apps/acc-pt patched"
    names = cluster.ok("get", "deploy", "acc-pt", "-o", "jsonpath={.spec.template.spec.containers[*].name}")
    assert names.split() == ["side", "web"] or names.split() == ["web", "side"]
    # merge patch replaces lists
    cluster.ok("patch", "deploy", "acc-pt", "--type=merge", "-p",
               '{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"nginx:1.27"}]}}}}')
    assert cluster.ok("get", "deploy", "acc-pt", "-o", "jsonpath={.spec.template.spec.containers[*].name}") == "only"
    # JSON patch
    cluster.ok("patch", "deploy", "acc-pt", "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":4}]')
    assert cluster.ok("get", "deploy", "acc-pt", "-o", "jsonpath={.spec.replicas}") == "4"
    err = cluster.fail("patch", "deploy", "acc-pt", "--type=json", "-p",
                       '[{"op":"test","path":"/spec/replicas","value":9}]')
    assert "500" not in err and "InternalError" not in err
    err = cluster.fail("patch", "deploy", "acc-pt", "--type=json", "-p", '[{"op":"remove","path":"/nope/x"}]')
    assert "InternalError" not in err
    assert cluster.ok("patch", "deploy", "acc-pt", "-p", '{"spec":{"replicas":4}}').strip() == \
        "deployment.apps/acc-pt patched (no change)"
    # the scale subresource and the status subresource
    cluster.ok("scale", "deploy", "acc-pt", "--replicas=2")
    assert cluster.ok("get", "deploy", "acc-pt", "-o", "jsonpath={.spec.replicas}") == "2"
    cluster.ok("patch", "deploy", "acc-pt", "--subresource=status", "--type=merge", "-p",
               '{"status":{"observedGeneration":1,"replicas":2}}')
    assert cluster.ok("get", "deploy", "acc-pt", "-o", "jsonpath={.status.replicas}") == "2"
    # a patch that makes the object invalid is refused and changes nothing
    err = cluster.fail("patch", "deploy", "acc-pt", "--type=merge", "-p", '{"spec":{"replicas":-1}}')
    assert "Invalid value" in err and "spec.replicas" in err
    assert cluster.ok("get", "deploy", "acc-pt", "-o", "jsonpath={.spec.replicas}") == "2"
    err = cluster.fail("patch", "deploy", "acc-pt", "--type=merge", "-p", "{not json")
    assert "InternalError" not in err


def _editor(tmp: Path, script: str) -> dict[str, str]:
    path = tmp / "editor.sh"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    # kubectl 1.32 reads KUBE_EDITOR then EDITOR (editorEnvs); KUBECTL_EDITOR, the name, is set too but unused
    return dict(os.environ, KUBE_EDITOR=str(path), KUBECTL_EDITOR=str(path))


def test_edit_with_kubectl_editor(cluster: Cluster, tmp_path: Path) -> None:
    cluster.ok("create", "-f", "-", input=CM.format(name="acc-e", value="before"))
    env = _editor(tmp_path, 'sed -i "s/before/after/" "$1"')
    r = subprocess.run([*cluster.argv, "edit", "cm", "acc-e"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configmap/acc-e edited"
    assert cluster.ok("get", "cm", "acc-e", "-o", "jsonpath={.data.key}") == "after"
    untouched = _editor(tmp_path, "true")
    r = subprocess.run([*cluster.argv, "edit", "cm", "acc-e"], env=untouched,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "Edit cancelled, no changes made." in r.stderr + r.stdout
    cluster.ok("apply", "-f", "-", input=DEPLOY.format(name="acc-ed", replicas=1, image="nginx:1.26"))
    env = _editor(tmp_path, 'sed -i "s/nginx:1.26/nginx:1.27/" "$1"')
    r = subprocess.run([*cluster.argv, "edit", "deploy", "acc-ed", "-o", "json"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    bad = _editor(tmp_path, 'sed -i "s/replicas: 1/replicas: -3/" "$1"')
    r = subprocess.run([*cluster.argv, "edit", "deploy", "acc-ed"], env=bad,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and 'deployments.apps "acc-ed" is invalid' in r.stderr
    copy = r.stderr.split('A copy of your changes has been stored to "')[1].split('"')[0]
    assert "spec.replicas: Invalid value: -3: must be greater than or equal to 0" in Path(copy).read_text()
    Path(copy).unlink()
    assert cluster.ok("get", "deploy", "acc-ed", "-o", "jsonpath={.spec.replicas}") == "1"


def test_replace_and_replace_force(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=CM.format(name="acc-r", value="1"))
    uid = cluster.ok("get", "cm", "acc-r", "-o", "jsonpath={.metadata.uid}")
    assert cluster.ok("replace", "-f", "-", input=CM.format(name="acc-r", value="2")).strip() == \
        "configmap/acc-r replaced"
    assert cluster.ok("get", "cm", "acc-r", "-o", "jsonpath={.data.key}") == "2"
    assert cluster.ok("get", "cm", "acc-r", "-o", "jsonpath={.metadata.uid}") == uid
    forced = cluster.ok("replace", "--force", "-f", "-", input=CM.format(name="acc-r", value="3"))
    assert 'configmap "acc-r" deleted' in forced and "configmap/acc-r replaced" in forced
    assert cluster.ok("get", "cm", "acc-r", "-o", "jsonpath={.metadata.uid}") != uid
    assert "NotFound" in cluster.fail("replace", "-f", "-", input=CM.format(name="acc-missing", value="1"))


# -- delete and wait ------------------------------------------------------------------------------------------------


def test_delete_cascade_and_grace_period(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input=NODE.format(name="acc-gnode"))
    for name in ("acc-bg", "acc-or", "acc-fg"):
        cluster.ok("apply", "-f", "-", input=DEPLOY.format(name=name, replicas=1, image="nginx"))
    assert cluster.ok("delete", "deploy", "acc-bg", "--cascade=background").strip() == \
        'deployment.apps "acc-bg" deleted'
    assert "NotFound" in cluster.fail("get", "deploy", "acc-bg")
    cluster.ok("delete", "deploy", "acc-or", "--cascade=orphan", "--wait=false")
    assert cluster.ok("get", "deploy", "acc-or", "-o", "jsonpath={.metadata.finalizers}") == '["orphan"]'
    cluster.ok("delete", "deploy", "acc-fg", "--cascade=foreground", "--wait=false")
    assert cluster.ok("get", "deploy", "acc-fg", "-o", "jsonpath={.metadata.finalizers}") == '["foregroundDeletion"]'
    assert "invalid cascade value (sideways)" in cluster.fail("delete", "deploy", "acc-fg", "--cascade=sideways")
    for name in ("acc-or", "acc-fg"):  # until the garbage collector exists, drop its finalizer by hand
        cluster.ok("patch", "deploy", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        assert "NotFound" in cluster.fail("get", "deploy", name)

    cluster.ok("create", "-f", "-", input=POD.format(name="acc-g", app="acc-g", tier="x"))
    bind(cluster, "acc-g", "acc-gnode")
    cluster.ok("delete", "pod", "acc-g", "--grace-period=60", "--wait=false")
    got = cluster.json("get", "pod", "acc-g")
    assert got["metadata"]["deletionGracePeriodSeconds"] == 60  # type: ignore[index]
    assert lines(cluster.ok("get", "pod", "acc-g"))[1][2] == "Terminating"
    out = cluster.ok("delete", "pod", "acc-g", "--grace-period=0", "--force")
    assert 'pod "acc-g" force deleted' in out
    assert "NotFound" in cluster.fail("get", "pod", "acc-g")
    cluster.ok("create", "-f", "-", input=CM.format(name="acc-del1", value="1") + "---\n" +
               CM.format(name="acc-del2", value="2"))
    out = cluster.ok("delete", "cm", "-l", "suite=acceptance,key-absent!=x", "--field-selector",
                     "metadata.name=acc-del1")
    assert out.strip() == 'configmap "acc-del1" deleted'
    assert cluster.ok("delete", "cm", "acc-del2", "--ignore-not-found", "--now") != ""
    assert cluster.ok("delete", "cm", "acc-del2", "--ignore-not-found").strip() == ""
    assert "NotFound" in cluster.fail("delete", "cm", "acc-del2")


def test_wait_for_delete_and_jsonpath(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=POD.format(name="acc-wt", app="acc-wt", tier="x"))
    waiter = subprocess.Popen([*cluster.argv, "wait", "pod/acc-wt",
                               "--for=jsonpath={.status.phase}=Running", "--timeout=30s"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert waiter.poll() is None
    set_phase(cluster, "acc-wt", "Running")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert out.strip() == "pod/acc-wt condition met"
    assert cluster.ok("wait", "pod", "-l", "app=acc-wt", "--for=jsonpath={.status.phase}=Running",
                      "--timeout=5s").strip() == "pod/acc-wt condition met"
    r = cluster.kubectl("wait", "pod/acc-wt", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=1s")
    assert r.returncode != 0 and "timed out" in r.stderr
    cluster.ok("patch", "pod", "acc-wt", "--subresource=status", "--type=merge", "-p",
               '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}')
    assert "condition met" in cluster.ok("wait", "pod/acc-wt", "--for=condition=Ready", "--timeout=5s")
    waiter = subprocess.Popen([*cluster.argv, "wait", "--for=delete",
                               "pod/acc-wt", "--timeout=30s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    time.sleep(1)
    cluster.ok("delete", "pod", "acc-wt", "--wait=false")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert "condition met" in out
    assert cluster.kubectl("wait", "--for=delete", "pod/acc-wt", "--timeout=2s").returncode == 0


# -- discovery, explain, version, whoami, imperative create --------------------------------------------------------


def test_discovery_explain_version_whoami(cluster: Cluster) -> None:
    res = lines(cluster.ok("api-resources"))
    assert res[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {(r[0], r[-3]) for r in res[1:]}
    for want in (("pods", "v1"), ("deployments", "apps/v1"), ("events", "v1"), ("events", "events.k8s.io/v1"),
                 ("cronjobs", "batch/v1"), ("leases", "coordination.k8s.io/v1")):
        assert want in rows, want
    assert cluster.ok("api-resources", "--api-group=events.k8s.io", "-o", "name").split() == ["events.events.k8s.io"]
    assert "nodes" in cluster.ok("api-resources", "--namespaced=false", "-o", "name")
    versions = cluster.ok("api-versions").split()
    for gv in ("v1", "apps/v1", "batch/v1", "events.k8s.io/v1", "discovery.k8s.io/v1", "coordination.k8s.io/v1"):
        assert gv in versions
    explained = cluster.ok("explain", "pods.spec.containers.image")
    assert "KIND:" in explained and "Pod" in explained and "FIELD: image <string>" in explained
    dep = cluster.ok("explain", "deployment.spec", "--recursive")
    assert "replicas\t<integer>" in dep or "replicas <integer>" in dep.replace("\t", " ")
    ev = cluster.ok("explain", "events", "--api-version=events.k8s.io/v1")
    assert "events.k8s.io" in ev and "note" in ev and "regarding" in ev
    v = json.loads(cluster.ok("version", "-o", "json"))
    assert v["serverVersion"]["major"] == "1" and v["serverVersion"]["minor"] == "32"
    assert "Server Version: v1.32" in cluster.ok("version")
    who = cluster.ok("auth", "whoami")
    assert "Username" in who and "Groups" in who and "system:masters" in who
    assert cluster.ok("auth", "can-i", "create", "pods").strip() == "yes"


def test_imperative_create_subcommands(cluster: Cluster) -> None:
    cluster.ok("create", "namespace", "acc-imp")
    n = ("-n", "acc-imp")
    assert cluster.ok(*n, "create", "configmap", "c", "--from-literal=a=1").strip() == "configmap/c created"
    cluster.ok(*n, "create", "secret", "generic", "s", "--from-literal=p=q")
    cluster.ok(*n, "create", "secret", "docker-registry", "reg", "--docker-server=r.io", "--docker-username=u",
               "--docker-password=p")
    assert cluster.ok(*n, "get", "secret", "reg", "-o", "jsonpath={.type}") == "kubernetes.io/dockerconfigjson"
    assert cluster.ok(*n, "create", "deployment", "d", "--image=nginx", "--replicas=2",
                      "--port=80").strip() == "deployment.apps/d created"
    d = cluster.json(*n, "get", "deploy", "d")
    assert d["spec"]["replicas"] == 2 and d["spec"]["selector"] == {"matchLabels": {"app": "d"}}  # type: ignore[index]
    assert cluster.ok(*n, "create", "service", "clusterip", "svc", "--tcp=80:8080").strip() == "service/svc created"
    assert cluster.ok(*n, "get", "svc", "svc", "-o", "jsonpath={.spec.ports[0].targetPort}") == "8080"
    cluster.ok(*n, "create", "service", "nodeport", "np", "--tcp=81:8081")
    port = int(cluster.ok(*n, "get", "svc", "np", "-o", "jsonpath={.spec.ports[0].nodePort}"))
    assert 30000 <= port <= 32767
    assert cluster.ok(*n, "create", "job", "j", "--image=busybox", "--", "echo", "hi").strip() == "job.batch/j created"
    assert cluster.ok(*n, "get", "job", "j", "-o", "jsonpath={.spec.template.spec.containers[0].command}") == \
        '["echo","hi"]'
    assert cluster.ok(*n, "create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *").strip() == \
        "cronjob.batch/cj created"
    cluster.ok(*n, "create", "job", "from-cj", "--from=cronjob/cj")
    owner = cluster.json(*n, "get", "job", "from-cj")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert owner[0]["kind"] == "CronJob" and owner[0]["name"] == "cj"
    assert "invalid" in cluster.fail(*n, "create", "cronjob", "bad", "--image=x", "--schedule=nope").lower()
    assert 'configmaps "c" already exists' in cluster.fail(*n, "create", "configmap", "c")
    cluster.ok("delete", "namespace", "acc-imp", "--wait=false")  # Terminating: no namespace controller here


# -- events.k8s.io/v1 ---------------------------------------------------------------------------------------------


def test_events_api_shares_core_events(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=CM.format(name="acc-ev", value="1"))
    uid = cluster.ok("get", "cm", "acc-ev", "-o", "jsonpath={.metadata.uid}")
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "acc-ev.new"},
          "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
          "reportingInstance": "ctl-1", "action": "Sync", "reason": "Synced", "type": "Normal",
          "note": "config synced", "regarding": {"kind": "ConfigMap", "namespace": "default", "name": "acc-ev",
                                                  "uid": uid, "apiVersion": "v1"}}
    assert cluster.ok("create", "-f", "-", input=json.dumps(ev)).strip() == "event.events.k8s.io/acc-ev.new created"
    core = cluster.json("get", "events.v1.", "acc-ev.new")
    assert core["apiVersion"] == "v1" and core["message"] == "config synced"
    assert core["involvedObject"]["name"] == "acc-ev" and core["reportingComponent"] == "example.com/ctl"  # type: ignore[index]
    new = cluster.json("get", "events.v1.events.k8s.io", "acc-ev.new")
    assert new["apiVersion"] == "events.k8s.io/v1" and new["note"] == "config synced"
    assert new["regarding"]["uid"] == uid and new["reportingController"] == "example.com/ctl"  # type: ignore[index]
    assert "message" not in new and "involvedObject" not in new
    # a core event read through events.k8s.io: the deprecated* fields
    old = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "acc-ev.old"}, "type": "Warning",
           "reason": "Failed", "message": "it broke", "count": 4, "source": {"component": "kubelet", "host": "n1"},
           "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:05:00Z",
           "involvedObject": {"kind": "ConfigMap", "namespace": "default", "name": "acc-ev", "uid": uid,
                              "apiVersion": "v1"}}
    cluster.ok("create", "-f", "-", input=json.dumps(old))
    conv = cluster.json("get", "events.events.k8s.io", "acc-ev.old")
    assert conv["note"] == "it broke" and conv["deprecatedCount"] == 4
    assert conv["deprecatedSource"] == {"component": "kubelet", "host": "n1"}
    assert conv["deprecatedFirstTimestamp"] == "2026-01-01T00:00:00Z"
    assert conv["deprecatedLastTimestamp"] == "2026-01-01T00:05:00Z"
    listed = cluster.ok("get", "events.events.k8s.io", "-o", "name", "--field-selector", "regarding.name=acc-ev")
    assert sorted(listed.split()) == ["event.events.k8s.io/acc-ev.new", "event.events.k8s.io/acc-ev.old"]
    # what the user sees
    table = lines(cluster.ok("get", "events", "--field-selector", "involvedObject.name=acc-ev"))
    assert table[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert {r[2] for r in table[1:]} == {"Synced", "Failed"}
    assert all(r[3] == "configmap/acc-ev" for r in table[1:])
    assert all(r[0].endswith("d") for r in table[1:])  # LAST SEEN from lastTimestamp or eventTime, days ago
    v1_table = lines(cluster.ok("get", "events.events.k8s.io", "--field-selector", "regarding.name=acc-ev"))
    assert v1_table == table
    wide = cluster.ok("get", "events", "-o", "wide", "--field-selector", "involvedObject.name=acc-ev")
    assert "example.com/ctl, ctl-1" in wide and "kubelet, n1" in wide
    events = cluster.ok("events", "--for", "configmap/acc-ev")
    assert "config synced" in events and "it broke" in events
    assert "Synced" in cluster.ok("events", "--types=Normal")
    described = cluster.ok("describe", "configmap", "acc-ev")
    assert "config synced" in described and "it broke" in described
    # patch and delete through either API
    cluster.ok("patch", "events.events.k8s.io", "acc-ev.new", "--type=merge", "-p", '{"note":"patched"}')
    assert cluster.ok("get", "events.v1.", "acc-ev.new", "-o", "jsonpath={.message}") == "patched"
    cluster.ok("delete", "events.events.k8s.io", "acc-ev.old")
    assert "NotFound" in cluster.fail("get", "events.v1.", "acc-ev.old")
    # server-side apply through events.k8s.io
    applied = dict(ev, metadata={"name": "acc-ev.ssa"}, note="applied")
    assert "serverside-applied" in cluster.ok("apply", "--server-side", "-f", "-", input=json.dumps(applied))
    assert cluster.ok("get", "events.v1.", "acc-ev.ssa", "-o", "jsonpath={.message}") == "applied"
    cluster.ok("apply", "--server-side", "-f", "-", input=json.dumps(dict(applied, note="reapplied")))
    assert cluster.ok("get", "events.events.k8s.io", "acc-ev.ssa", "-o", "jsonpath={.note}") == "reapplied"
    # events.k8s.io validation of new events
    bad = dict(ev, metadata={"name": "acc-ev.bad"})
    for k in ("reportingController", "eventTime", "action"):
        bad.pop(k)
    err = cluster.fail("create", "-f", "-", input=json.dumps(bad))
    assert "reportingController: Required value" in err and "eventTime: Required value" in err
    assert "action: Required value" in err
    assert "NotFound" in cluster.fail("get", "events.v1.", "acc-ev.bad")


# -- the official Python client ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield c
    c.close()


def test_python_typed_pods_selectors_watch_patch_delete(api: client.ApiClient, cluster: Cluster) -> None:
    v1 = client.CoreV1Api(api)
    cluster.ok("apply", "-f", "-", input=NODE.format(name="acc-pynode"))
    for i, tier in enumerate(("a", "a", "b")):
        pod = client.V1Pod(metadata=client.V1ObjectMeta(name=f"acc-py{i}", labels={"py": "acc", "tier": tier}),
                           spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))
        made = v1.create_namespaced_pod("default", pod)
        assert made.spec.restart_policy == "Always" and made.status.phase == "Pending"
    bind(cluster, "acc-py0", "acc-pynode")
    names = [p.metadata.name for p in v1.list_namespaced_pod("default", label_selector="py=acc,tier=a").items]
    assert names == ["acc-py0", "acc-py1"]
    on_node = v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=acc-pynode", label_selector="py")
    assert [p.metadata.name for p in on_node.items] == ["acc-py0"]
    pending = v1.list_namespaced_pod("default", field_selector="status.phase=Pending,metadata.name!=acc-py2",
                                     label_selector="py=acc")
    assert [p.metadata.name for p in pending.items] == ["acc-py0", "acc-py1"]
    with pytest.raises(ApiException) as e:
        v1.list_namespaced_pod("default", field_selector="spec.bogus=1")
    assert e.value.status == 400

    seen: list[tuple[str, str]] = []
    rv = v1.list_namespaced_pod("default", label_selector="py=acc").metadata.resource_version

    def watcher() -> None:
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_pod, "default", label_selector="tier=b", resource_version=rv,
                           timeout_seconds=10):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.5)
    v1.patch_namespaced_pod("acc-py2", "default", {"metadata": {"labels": {"seen": "yes"}}})  # strategic merge
    v1.patch_namespaced_pod("acc-py1", "default", {"metadata": {"labels": {"other": "x"}}})  # not watched
    got = v1.patch_namespaced_pod("acc-py2", "default",
                                  [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}])  # JSON patch
    assert got.metadata.annotations == {"a": "b"} and got.metadata.labels["seen"] == "yes"
    status = v1.patch_namespaced_pod_status("acc-py2", "default", {"status": {"phase": "Running"}})
    assert status.status.phase == "Running"
    v1.delete_namespaced_pod("acc-py2", "default", grace_period_seconds=0)
    t.join(15)
    assert not t.is_alive()
    assert seen == [("MODIFIED", "acc-py2")] * 3 + [("DELETED", "acc-py2")]
    deleted = v1.delete_collection_namespaced_pod("default", label_selector="py=acc", grace_period_seconds=0,
                                                  _preload_content=False)
    assert {i["metadata"]["name"] for i in json.loads(deleted.data)["items"]} == {"acc-py0", "acc-py1"}
    assert v1.list_namespaced_pod("default", label_selector="py=acc").items == []


def test_python_typed_apps_and_events(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="acc-pyd", labels={"py": "acc"}),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels={"app": "acc-pyd"}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "acc-pyd"}),
                                              spec=client.V1PodSpec(containers=[client.V1Container(name="c",
                                                                                                   image="nginx")]))))
    made = apps.create_namespaced_deployment("default", body)
    assert made.spec.strategy.type == "RollingUpdate" and made.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment_scale("acc-pyd", "default", {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3
    assert apps.read_namespaced_deployment("acc-pyd", "default").metadata.generation == 2
    listed = apps.list_deployment_for_all_namespaces(label_selector="py in (acc)")
    assert [d.metadata.name for d in listed.items] == ["acc-pyd"]
    apps.delete_namespaced_deployment("acc-pyd", "default", propagation_policy="Background")
    with pytest.raises(ApiException) as e:
        apps.read_namespaced_deployment("acc-pyd", "default")
    assert e.value.status == 404

    ev_api = client.EventsV1Api(api)
    rv = ev_api.list_namespaced_event("default", label_selector="py=acc").metadata.resource_version
    ev = client.EventsV1Event(
        metadata=client.V1ObjectMeta(name="acc-pyev", labels={"py": "acc"}), event_time="2026-01-01T00:00:00.000000Z", reporting_controller="example.com/py", reporting_instance="py-1",
        action="Create", reason="Made", type="Normal", note="from python",
        regarding=client.V1ObjectReference(kind="Deployment", name="acc-pyd", namespace="default"))
    made_ev = ev_api.create_namespaced_event("default", ev)
    assert made_ev.note == "from python" and made_ev.regarding.name == "acc-pyd"
    listed_ev = ev_api.list_namespaced_event("default", label_selector="py=acc")
    assert [e.metadata.name for e in listed_ev.items] == ["acc-pyev"]
    core = client.CoreV1Api(api).read_namespaced_event("acc-pyev", "default")
    assert core.message == "from python" and core.involved_object.name == "acc-pyd"
    patched = ev_api.patch_namespaced_event("acc-pyev", "default", {"note": "again"})
    assert patched.note == "again"
    ev_api.delete_namespaced_event("acc-pyev", "default")
    assert ev_api.list_namespaced_event("default", label_selector="py=acc").items == []
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    for e in w.stream(ev_api.list_namespaced_event, "default", label_selector="py=acc", resource_version=rv,
                      timeout_seconds=5):
        seen.append((e["type"], e["object"].note))
        if e["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "from python"), ("MODIFIED", "again"), ("DELETED", "again")]


def test_python_dynamic_client(api: client.ApiClient) -> None:
    dyn = dynamic.DynamicClient(api)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    for i in range(3):
        cms.create(body={"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": f"acc-dyn{i}", "labels": {"dyn": "acc", "n": str(i)}},
                         "data": {"i": str(i)}}, namespace="default")
    listed = cms.get(namespace="default", label_selector="dyn=acc,n!=1")
    assert [i.metadata.name for i in listed.items] == ["acc-dyn0", "acc-dyn2"]
    by_field = cms.get(namespace="default", field_selector="metadata.name=acc-dyn1")
    assert [i.metadata.name for i in by_field.items] == ["acc-dyn1"]
    merged = cms.patch(name="acc-dyn0", namespace="default", body={"data": {"x": "y"}},
                       content_type="application/merge-patch+json")
    assert dict(merged.data) == {"i": "0", "x": "y"}
    jp = cms.patch(name="acc-dyn0", namespace="default", body=[{"op": "remove", "path": "/data/x"}],
                   content_type="application/json-patch+json")
    assert dict(jp.data) == {"i": "0"}
    applied = cms.server_side_apply(body={"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "acc-dyn9", "labels": {"dyn": "acc"}},
                                          "data": {"k": "v"}}, namespace="default", field_manager="acc-test")
    assert applied.metadata.managedFields[0].manager == "acc-test"
    events: list[str] = []
    for ev in cms.watch(namespace="default", label_selector="dyn=acc", timeout=1):
        events.append(f"{ev['type']} {ev['object'].metadata.name}")
    assert sorted(events) == ["ADDED acc-dyn0", "ADDED acc-dyn1", "ADDED acc-dyn2", "ADDED acc-dyn9"]
    deps = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deps.get(namespace="default", label_selector="nothing=here").items == []
    new_events = dyn.resources.get(api_version="events.k8s.io/v1", kind="Event")
    assert new_events.namespaced
    cms.delete(namespace="default", label_selector="dyn=acc")
    assert cms.get(namespace="default", label_selector="dyn=acc").items == []


# -- error cases: never a 500, nothing half-written ----------------------------------------------------------------


def request(api: client.ApiClient, method: str, path: str, body: bytes | None = None,
            ct: str = "application/json") -> tuple[int, dict[str, Any]]:
    r = api.rest_client.pool_manager.request(method, api.configuration.host + path, body=body,
                                             headers={"Content-Type": ct, "Accept": "application/json"})
    try:
        doc = json.loads(r.data) if r.data else {}
    except ValueError:
        doc = {"raw": r.data[:200]}
    return int(r.status), doc


def status_of(code: int, doc: dict[str, Any]) -> tuple[int, str, str]:
    assert code < 500, (code, doc)
    assert doc.get("kind") == "Status" and doc.get("apiVersion") == "v1", doc
    assert doc["code"] == code and doc["status"] == "Failure"
    return code, str(doc.get("reason", "")), str(doc.get("message", ""))


PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def test_malformed_bodies_and_wrong_kinds(api: client.ApiClient) -> None:
    code, reason, msg = status_of(*request(api, "POST", CMS, b'{"apiVersion":"v1","kind":"ConfigMap",'))
    assert (code, reason) == (400, "BadRequest")
    code, reason, _ = status_of(*request(api, "POST", CMS, b"kind: ConfigMap\nmetadata: [unclosed\n",
                                         "application/yaml"))
    assert (code, reason) == (400, "BadRequest")
    code, reason, _ = status_of(*request(api, "POST", CMS, b"[1, 2, 3]"))
    assert code == 400
    code, reason, _ = status_of(*request(api, "POST", CMS, b'"just a string"'))
    assert code == 400
    code, reason, _ = status_of(*request(api, "POST", CMS, b"\xff\xfe\x00garbage"))
    assert code == 400
    code, reason, _ = status_of(*request(api, "POST", CMS, b"{}", "text/plain"))
    assert (code, reason) == (415, "UnsupportedMediaType")
    deploy = yaml.safe_load(DEPLOY.format(name="acc-wrong", replicas=1, image="nginx"))
    code, reason, msg = status_of(*request(api, "POST", PODS, json.dumps(deploy).encode()))
    assert (code, reason) == (400, "BadRequest")
    assert msg == ('Deployment in version "v1" cannot be handled as a Pod: converting (v1.Deployment) to (core.Pod): '
                   'unknown conversion')
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "acc-wrong"}}
    code, reason, msg = status_of(*request(api, "POST", PODS, json.dumps(cm).encode()))
    assert msg == ('ConfigMap in version "v1" cannot be handled as a Pod: converting (v1.ConfigMap) to (core.Pod): '
                   'unknown conversion')
    code, reason, msg = status_of(*request(api, "POST", PODS, json.dumps(dict(cm, kind="Nope")).encode()))
    assert msg == ('Nope in version "v1" cannot be handled as a Pod: no kind "Nope" is registered for version "v1" '
                   'in scheme "pkg/api/legacyscheme/scheme.go:30"')
    new_event = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "acc-wrong"}}
    code, reason, msg = status_of(*request(api, "POST", "/api/v1/namespaces/default/events",
                                           json.dumps(new_event).encode()))
    assert msg == "the API version in the data (events.k8s.io/v1) does not match the expected API version (v1)"
    code, _, _ = status_of(*request(api, "PUT", f"{PODS}/acc-wrong", json.dumps(cm).encode()))
    assert code == 400
    code, _, _ = status_of(*request(api, "POST", CMS, json.dumps({"metadata": "oops"}).encode()))
    assert code in (400, 422)
    code, _, _ = status_of(*request(api, "POST", CMS, json.dumps({"metadata": {"name": "x"}, "data": [1]}).encode()))
    assert code in (400, 422)
    code, _, _ = status_of(*request(api, "POST", DEPLOYS, json.dumps({"metadata": {"name": "acc-wrong"},
                                                                      "spec": "nope"}).encode()))
    assert code in (400, 422)
    code, _, _ = status_of(*request(api, "PATCH", f"{CMS}/acc-nothing", b'{"data":{}}',
                                    "application/merge-patch+json"))
    assert code == 404
    for name in ("acc-wrong", "x"):
        assert request(api, "GET", f"{PODS}/{name}")[0] == 404
        assert request(api, "GET", f"{CMS}/{name}")[0] == 404
        assert request(api, "GET", f"{DEPLOYS}/{name}")[0] == 404


def test_huge_bodies_are_413(api: client.ApiClient) -> None:
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "acc-huge"}, "data": {"a": "x" * 3_200_000}}
    code, reason, msg = status_of(*request(api, "POST", CMS, json.dumps(big).encode()))
    assert (code, reason) == (413, "RequestEntityTooLarge")
    assert "limit is 3145728" in msg
    bigger = dict(big, data={"a": "x" * 6_000_000})
    code, reason, _ = status_of(*request(api, "POST", CMS, json.dumps(bigger).encode()))
    assert (code, reason) == (413, "RequestEntityTooLarge")
    assert request(api, "GET", f"{CMS}/acc-huge")[0] == 404
    ok = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "acc-huge"}, "data": {"a": "1"}}
    assert request(api, "POST", CMS, json.dumps(ok).encode())[0] == 201
    code, reason, _ = status_of(*request(api, "PATCH", f"{CMS}/acc-huge", json.dumps(
        {"data": {"b": "y" * 3_200_000}}).encode(), "application/merge-patch+json"))
    assert code == 413
    assert request(api, "GET", f"{CMS}/acc-huge")[1]["data"] == {"a": "1"}
    assert request(api, "DELETE", f"{CMS}/acc-huge")[0] == 200


def test_bad_names_and_selectors(api: client.ApiClient, cluster: Cluster) -> None:
    for name in ("Bad_Name", "a" * 254, "..", "-lead", "sp ace"):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        code, reason, msg = status_of(*request(api, "POST", CMS, json.dumps(body).encode()))
        assert (code, reason) == (422, "Invalid"), (name, msg)
    code, reason, msg = status_of(*request(api, "POST", "/api/v1/namespaces",
                                           json.dumps({"metadata": {"name": "a.b"}}).encode()))
    assert (code, reason) == (422, "Invalid") and "RFC 1123 label" in msg
    code, _, _ = status_of(*request(api, "POST", CMS, json.dumps({"metadata": {}}).encode()))
    assert code == 422
    assert request(api, "GET", f"{CMS}/Bad_Name")[0] == 404
    for query in ("labelSelector=a%20in%20(", "labelSelector=!!", "labelSelector=a%3D%3D%3Db",
                  "labelSelector=" + "x" * 70 + "%3D1", "fieldSelector=bogus%3D1", "fieldSelector=metadata.name",
                  "limit=-1", "limit=abc", "resourceVersion=abc&watch=true", "continue=garbage",
                  "timeoutSeconds=x&watch=true"):
        code, _, msg = status_of(*request(api, "GET", f"{PODS}?{query}"))
        assert code == 400, (query, code, msg)
    err = cluster.fail("get", "pods", "-l", "a in (")
    assert "InternalError" not in err
    err = cluster.fail("get", "pods", "--field-selector", "spec.bogus=1")
    assert 'field label not supported: spec.bogus' in err
    code, _, _ = status_of(*request(api, "GET", "/api/v1/namespaces/default/nosuchthings"))
    assert code == 404
    code, _, _ = status_of(*request(api, "DELETE", f"{CMS}/nothing-here"))
    assert code == 404
    code, _, _ = status_of(*request(api, "DELETE", f"{CMS}/x", b"{not json"))
    assert code == 400


LIST = """apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: acc-list1, labels: {from: list}}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: acc-list2, labels: {from: list}}}
"""


def test_create_and_apply_a_list_without_client_validation(cluster: Cluster) -> None:
    assert cluster.ok("create", "--validate=false", "-f", "-", input=LIST).split("\n")[:2] == [
        "configmap/acc-list1 created", "configmap/acc-list2 created"]
    dumped = cluster.ok("get", "cm", "-l", "from=list", "-o", "yaml")
    assert "configmap/acc-list1 configured" in cluster.ok("apply", "--validate=false", "-f", "-", input=LIST)
    assert yaml.safe_load(dumped)["kind"] == "List"
    cluster.ok("delete", "-f", "-", input=LIST)
    assert cluster.ok("get", "cm", "-l", "from=list", "-o", "name").strip() == ""



def test_create_a_list_with_default_validation(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=LIST.replace("acc-list", "acc-vlist"))


def test_event_conversion_round_trips_and_prints_like_kube() -> None:
    from kubelite.api.registry.core import Event
    from kubelite.api.registry.events import core_to_v1, v1_to_core

    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "n"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "m", "reason": "R", "type": "Normal",
            "source": {"component": "kubelet"}, "count": 2, "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-02T00:00:00Z", "eventTime": None, "reportingComponent": "",
            "reportingInstance": "", "series": {"count": 5, "lastObservedTime": "2026-01-03T00:00:00.000000Z"},
            "related": {"kind": "Node", "name": "n1"}, "action": "Kill"}
    v1 = core_to_v1(core)
    assert v1["apiVersion"] == "events.k8s.io/v1"
    assert {k: v1[k] for k in ("note", "regarding", "deprecatedSource", "deprecatedCount", "deprecatedFirstTimestamp",
                               "deprecatedLastTimestamp", "series", "related", "action")} == {
        "note": "m", "regarding": {"kind": "Pod", "name": "p"}, "deprecatedSource": {"component": "kubelet"},
        "deprecatedCount": 2, "deprecatedFirstTimestamp": "2026-01-01T00:00:00Z",
        "deprecatedLastTimestamp": "2026-01-02T00:00:00Z", "series": core["series"], "related": core["related"],
        "action": "Kill"}
    assert v1_to_core(v1) == core
    cells = Event().cells(core)
    assert cells[3] == "pod/p" and cells[5] == "kubelet" and cells[7] == 5  # a series' count wins
    bare = {"metadata": {"name": "b"}, "involvedObject": {"kind": "Node"}, "reportingComponent": "ctl",
            "reportingInstance": "i-1"}
    cells = Event().cells(bare)
    assert cells[0] == "<unknown>" and cells[3] == "node" and cells[5] == "ctl, i-1" and cells[7] == 1


GARBAGE = [b"", b"null", b"{}", b"[]", b"42", b'{"metadata":null}', b'{"metadata":{"name":"acc-fz","labels":"x"}}',
           b'{"metadata":{"name":"acc-fz","namespace":5}}', b'{"metadata":{"name":"acc-fz"},"spec":null,"status":"x"}',
           b'{"metadata":{"name":"acc-fz"},"spec":[],"data":7}', b'{"metadata":{"name":"acc-fz","finalizers":"f"}}',
           b'{"metadata":{"name":"acc-fz","ownerReferences":[{}]}}', b'{"metadata":{"name":["a"]}}',
           b'{"metadata":{"name":"acc-fz","annotations":{"a":1}}}', b'{"a":' * 200 + b"1" + b"}" * 200]


def test_garbage_never_500(api: client.ApiClient) -> None:
    from kubelite.api.registry import REGISTRY
    from kubelite.api.registry.reviews import Review

    for s in REGISTRY.kinds:
        base = (f"/api/{s.version}" if not s.group else f"/apis/{s.group}/{s.version}") + \
            ("/namespaces/default" if s.namespaced else "") + f"/{s.plural}"
        for body in GARBAGE:
            code, doc = request(api, "POST", base, body)
            assert code < 500, (s.plural, body[:60], doc)
            if code >= 400:
                status_of(code, doc)
            elif not isinstance(s, Review):
                request(api, "DELETE", f"{base}/acc-fz?gracePeriodSeconds=0")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "acc-fzp"}, "data": {"a": "1"}}
    assert request(api, "POST", CMS, json.dumps(cm).encode())[0] == 201
    for ct in ("application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json",
               "application/apply-patch+yaml"):
        for body in [*GARBAGE, b'[{"op":"move","from":"/data","path":"/data/a"}]', b'[{"op":"add"}]',
                     b'{"data":{"$patch":"nonsense"}}', b'{"$setElementOrder/data":[1]}', b'{"metadata":{"$retainKeys":7}}',
                     b'[{"op":"replace","path":"/metadata","value":[]}]', b'{"kind":"Pod","apiVersion":"v1"}']:
            code, doc = request(api, "PATCH", f"{CMS}/acc-fzp?fieldManager=fz", body, ct)
            assert code < 500, (ct, body[:60], doc)
            if code >= 400:
                status_of(code, doc)
    assert request(api, "DELETE", f"{CMS}/acc-fzp")[0] == 200


def test_name_and_namespace_mismatches(api: client.ApiClient) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "acc-mm", "namespace": "kube-system"}}
    code, reason, msg = status_of(*request(api, "POST", CMS, json.dumps(cm).encode()))
    assert (code, msg) == (400, "the namespace of the provided object does not match the namespace sent on the request")
    code, reason, msg = status_of(*request(api, "POST", "/api/v1/namespaces/acc-nowhere/configmaps",
                                           json.dumps({"metadata": {"name": "acc-mm"}}).encode()))
    assert (code, reason, msg) == (404, "NotFound", 'namespaces "acc-nowhere" not found')
    assert request(api, "POST", CMS, json.dumps({"metadata": {"name": "acc-mm"}}).encode())[0] == 201
    code, reason, msg = status_of(*request(api, "PUT", f"{CMS}/acc-mm",
                                           json.dumps({"metadata": {"name": "acc-other"}}).encode()))
    assert (code, msg) == (400, "the name of the object (acc-other) does not match the name on the URL (acc-mm)")
    assert request(api, "GET", f"{CMS}/acc-other")[0] == 404
    assert request(api, "DELETE", f"{CMS}/acc-mm")[0] == 200
