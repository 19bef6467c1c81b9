"""kubectl v1.32, unchanged, against a kubelite server: the everyday verbs end to end."""

from __future__ import annotations

import json
import subprocess
import time

from tests.api.conftest import Cluster

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels: {{app: demo, tier: {tier}}}
data:
  key: "{value}"
"""

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports: [{{containerPort: 80}}]
"""


def test_version_and_discovery(cluster: Cluster) -> None:
    out = cluster.ok("version", "-o", "json")
    assert json.loads(out)["serverVersion"]["minor"] == "32"
    res = cluster.ok("api-resources")
    for line in ("configmaps", "deployments", "namespaces"):
        assert line in res
    assert "apps/v1" in cluster.ok("api-versions")


def test_system_namespaces(cluster: Cluster) -> None:
    out = cluster.ok("get", "ns")
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert ns in out


def test_create_get_apply_delete(cluster: Cluster) -> None:
    assert "configmap/one created" in cluster.ok("create", "-f", "-", input=CM.format(name="one", tier="a", value=1))
    assert "created" in cluster.ok("apply", "-f", "-", input=CM.format(name="two", tier="b", value=2))
    assert "unchanged" in cluster.ok("apply", "-f", "-", input=CM.format(name="two", tier="b", value=2))
    assert "configured" in cluster.ok("apply", "-f", "-", input=CM.format(name="two", tier="b", value=3))
    obj = cluster.json("get", "cm", "two")
    assert obj["data"] == {"key": "3"}
    meta = obj["metadata"]
    assert isinstance(meta, dict) and meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    table = cluster.ok("get", "configmaps")
    assert table.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    assert "kind: ConfigMap" in cluster.ok("get", "cm", "one", "-o", "yaml")
    assert cluster.ok("get", "cm", "two", "-o", "jsonpath={.data.key}") == "3"
    assert cluster.ok("get", "cm", "-l", "tier=b", "-o", "name").split() == ["configmap/two"]
    assert cluster.ok("get", "cm", "-l", "tier in (a,b),app", "-o", "name").split() == ["configmap/one",
                                                                                       "configmap/two"]
    assert cluster.ok("get", "cm", "-l", "tier!=a", "-o", "name").split() == ["configmap/two"]
    shown = cluster.ok("get", "cm", "one", "--show-labels")
    assert "app=demo,tier=a" in shown
    every = cluster.ok("get", "cm", "-A")
    assert every.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert 'configmap "one" deleted' in cluster.ok("delete", "cm", "one")
    assert "NotFound" in cluster.fail("get", "cm", "one")


def test_label_annotate_patch(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=CM.format(name="p", tier="a", value=1))
    cluster.ok("label", "cm", "p", "color=red")
    cluster.ok("annotate", "cm", "p", "note=hello")
    cluster.ok("patch", "cm", "p", "--type", "merge", "-p", '{"data":{"m":"1"}}')
    cluster.ok("patch", "cm", "p", "--type", "json", "-p", '[{"op":"add","path":"/data/j","value":"2"}]')
    cluster.ok("patch", "cm", "p", "--type", "strategic", "-p", '{"data":{"s":"3"}}')
    obj = cluster.json("get", "cm", "p")
    assert obj["data"] == {"key": "1", "m": "1", "j": "2", "s": "3"}
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    assert meta["labels"]["color"] == "red" and meta["annotations"]["note"] == "hello"
    cluster.ok("label", "cm", "p", "color-")
    assert "color" not in cluster.json("get", "cm", "p")["metadata"]["labels"]  # type: ignore[index]
    err = cluster.fail("patch", "cm", "p", "--type", "json", "-p", '[{"op":"remove","path":"/data/nope"}]')
    assert "Error from server" in err


def test_deployment_generation_and_strategic_patch(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input=DEPLOY.format(image="nginx:1.25"))
    d = cluster.json("get", "deploy", "web")
    assert d["metadata"]["generation"] == 1  # type: ignore[index]
    assert d["spec"]["replicas"] == 1 and d["spec"]["strategy"]["type"] == "RollingUpdate"  # type: ignore[index]
    assert "configured" in cluster.ok("apply", "-f", "-", input=DEPLOY.format(image="nginx:1.26"))
    cluster.ok("patch", "deploy", "web", "-p",
               '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}')
    d = cluster.json("get", "deploy", "web")
    containers = d["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    # Kubernetes puts patched items first, then the server's own (kubectl patch docs: patch-demo-ctr-2 first)
    assert [c["name"] for c in containers] == ["sidecar", "nginx"]
    assert containers[1]["image"] == "nginx:1.26"
    assert d["metadata"]["generation"] == 3  # type: ignore[index]
    cluster.ok("label", "deploy", "web", "x=y")
    assert cluster.json("get", "deploy", "web")["metadata"]["generation"] == 3  # type: ignore[index]
    cluster.ok("scale", "deploy", "web", "--replicas=3")
    assert cluster.ok("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "3"
    header = cluster.ok("get", "deploy", "-o", "wide").splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    cluster.ok("delete", "deploy", "web")


def test_pod_and_service_tables(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input="""apiVersion: v1
kind: Pod
metadata: {name: p1}
spec:
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Service
metadata: {name: s1}
spec:
  selector: {app: web}
  ports: [{port: 80}]
""")
    pods = cluster.ok("get", "pods").splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods[1].split()[:4] == ["p1", "0/1", "Pending", "0"]
    svc = cluster.ok("get", "svc", "s1").splitlines()
    assert svc[0].split()[:5] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]
    assert "80/TCP" in svc[1]
    pod = cluster.json("get", "pod", "p1")
    assert pod["spec"]["restartPolicy"] == "Always"  # type: ignore[index]
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"  # type: ignore[index]
    cluster.ok("delete", "pod", "p1", "--wait=false")
    cluster.ok("delete", "svc", "s1")


def test_errors(cluster: Cluster) -> None:
    err = cluster.fail("create", "-f", "-", input=CM.format(name="Bad_Name", tier="a", value=1))
    assert 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in err
    assert "RFC 1123 subdomain" in err
    err = cluster.fail("-n", "missing", "create", "-f", "-", input=CM.format(name="x", tier="a", value=1))
    assert 'namespaces "missing" not found' in err
    cluster.ok("create", "-f", "-", input=CM.format(name="dup", tier="a", value=1))
    err = cluster.fail("create", "-f", "-", input=CM.format(name="dup", tier="a", value=1))
    assert "AlreadyExists" in err and 'configmaps "dup" already exists' in err
    stale = cluster.json("get", "cm", "dup")
    cluster.ok("label", "cm", "dup", "bump=1")
    err = cluster.fail("replace", "-f", "-", input=json.dumps(stale))
    assert "Conflict" in err and "the object has been modified" in err
    err = cluster.fail("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")
    assert "error" in err.lower()
    err = cluster.fail("create", "-f", "-", input="apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
                       "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: c}}, "
                       "spec: {containers: [{name: c}]}}}\n")
    assert "spec.template.metadata.labels" in err and "spec.template.spec.containers[0].image: Required value" in err
    err = cluster.fail("delete", "ns", "default")
    assert "Forbidden" in err


def test_watch(cluster: Cluster) -> None:
    cluster.ok("create", "-f", "-", input=CM.format(name="w1", tier="w", value=1))
    proc = subprocess.Popen([*cluster.argv, "get", "cm", "-l", "tier=w", "-w",
                             "-o", "name"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.split()[-1] == "configmap/w1"
        time.sleep(0.3)
        cluster.ok("label", "cm", "w1", "more=1")
        assert proc.stdout.readline().strip() == "configmap/w1"  # MODIFIED
        cluster.ok("delete", "cm", "w1")
        assert proc.stdout.readline().strip() == "configmap/w1"  # DELETED
    finally:
        proc.kill()
        proc.wait()


def test_namespace_lifecycle(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    cluster.ok("-n", "team", "apply", "-f", "-", input=CM.format(name="inner", tier="a", value=1))
    assert "inner" in cluster.ok("-n", "team", "get", "cm")
    # This server runs no namespace controller, so the namespace stays Terminating (its emptying is
    # tests/controllers/test_namespace.py's) and refuses new content.
    cluster.ok("delete", "ns", "team", "--wait=false")
    assert "Terminating" in cluster.ok("get", "ns", "team")
    assert "unable to create new content in namespace team because it is being terminated" in \
        cluster.fail("-n", "team", "create", "cm", "late")


def test_dry_run(cluster: Cluster) -> None:
    out = cluster.ok("create", "-f", "-", "--dry-run=server", input=CM.format(name="dry", tier="a", value=1))
    assert "created (server dry run)" in out
    assert "NotFound" in cluster.fail("get", "cm", "dry")


def test_imperative_create_sends_protobuf(cluster: Cluster) -> None:
    assert "configmap/imp created" in cluster.ok("create", "configmap", "imp", "--from-literal=a=b")
    assert cluster.json("get", "cm", "imp")["data"] == {"a": "b"}
    cluster.ok("create", "secret", "generic", "sec", "--from-literal=pw=hunter2")
    assert cluster.ok("get", "secret", "sec", "-o", "jsonpath={.data.pw}") == "aHVudGVyMg=="
    cluster.ok("create", "namespace", "imperative")
    assert cluster.ok("get", "ns", "imperative").split()[-2] == "Active"
    err = cluster.fail("create", "namespace", "Bad_Name")
    assert "RFC 1123 label" in err
