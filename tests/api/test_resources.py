"""batch, discovery, coordination, reviews, pod subresources, default ServiceAccounts, Secrets at rest."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from kubelite.api.encrypted_store import EncryptedStore
from kubelite.api.errors import to_status
from kubelite.api.registry import REGISTRY
from kubelite.api.registry.batch import CronError, parse_cron
from kubelite.api.security.encryption import DecryptionFailed, Encryptor
from kubelite.api.storage import Storage
from kubelite.store import open_store
from tests.api.conftest import Cluster

JOB = """apiVersion: batch/v1
kind: Job
metadata: {name: %s}
spec:
  template:
    spec:
      %s
      containers: [{name: c, image: busybox, command: [echo, hi]}]
"""


def test_job_defaults_and_generated_selector(cluster: Cluster) -> None:
    cluster.ok("create", "job", "pi", "--image=busybox", "--", "echo", "hi")  # protobuf body
    job = cluster.json("get", "job", "pi")
    spec, meta = job["spec"], job["metadata"]
    assert isinstance(spec, dict) and isinstance(meta, dict)
    uid = meta["uid"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False and spec["manualSelector"] is False
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec["template"]["metadata"]["labels"]
    assert labels == {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                      "batch.kubernetes.io/job-name": "pi", "job-name": "pi"}
    assert meta["labels"] == labels
    assert job["status"] == {}
    head = cluster.ok("get", "jobs").splitlines()
    assert head[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert head[1].split()[:3] == ["pi", "Running", "0/1"]
    # status subresource: the main resource cannot change it, /status can
    cluster.ok("patch", "job", "pi", "--subresource=status", "--type=merge",
               "-p", '{"status":{"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]}}')
    assert cluster.ok("get", "job", "pi", "--no-headers").split()[1:3] == ["Complete", "1/1"]
    cluster.ok("patch", "job", "pi", "--type=merge", "-p", '{"status":{"succeeded":0}}')
    assert cluster.ok("get", "job", "pi", "-o", "jsonpath={.status.succeeded}") == "1"
    err = cluster.fail("patch", "job", "pi", "--type=merge", "-p", '{"spec":{"completions":3}}')
    assert "spec.completions: Invalid value: 3: field is immutable" in err


def test_job_validation(cluster: Cluster) -> None:
    err = cluster.fail("create", "-f", "-", input=JOB % ("always", ""))
    assert 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"' in err
    cluster.ok("create", "-f", "-", input=JOB % ("never", "restartPolicy: Never"))
    manual = json.loads(cluster.ok("create", "-f", "-", "-o", "json", input="""apiVersion: batch/v1
kind: Job
metadata: {name: manual}
spec:
  manualSelector: true
  selector: {matchLabels: {a: b}}
  parallelism: 2
  template:
    metadata: {labels: {a: b}}
    spec:
      restartPolicy: OnFailure
      containers: [{name: c, image: busybox}]
"""))
    assert manual["spec"]["selector"] == {"matchLabels": {"a": "b"}}
    assert "completions" not in manual["spec"] and manual["spec"]["parallelism"] == 2
    err = cluster.fail("create", "-f", "-", input=(JOB % ("neg", "restartPolicy: Never")).replace(
        "spec:\n  template", "spec:\n  backoffLimit: -1\n  template"))
    assert "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0" in err


def test_cronjob(cluster: Cluster) -> None:
    cluster.ok("create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--", "date")
    spec = cluster.json("get", "cronjob", "cj")["spec"]
    assert isinstance(spec, dict)
    assert spec["concurrencyPolicy"] == "Allow" and spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    head = cluster.ok("get", "cj").splitlines()
    assert head[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert head[1].split()[:7] == ["cj", "*/5", "*", "*", "*", "*", "<none>"]
    cluster.ok("create", "cronjob", "hourly", "--image=busybox", "--schedule=@hourly")
    err = cluster.fail("create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *")
    assert 'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61' in err
    err = cluster.fail("create", "cronjob", "bad", "--image=busybox", "--schedule=hello")
    assert "expected exactly 5 fields, found 1: [hello]" in err
    cluster.ok("patch", "cj", "cj", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    err = cluster.fail("patch", "cj", "cj", "--type=merge", "-p", '{"spec":{"concurrencyPolicy":"Sometimes"}}')
    assert 'spec.concurrencyPolicy: Unsupported value: "Sometimes"' in err


def test_parse_cron() -> None:
    minutes, hours, dom, months, dow = parse_cron("0,30 9-17/2 1 jan-mar mon-fri")  # type: ignore[misc]
    assert minutes == {0, 30} and hours == {9, 11, 13, 15, 17} and dom == {1}
    assert months == {1, 2, 3} and dow == {1, 2, 3, 4, 5}
    assert parse_cron("@every 1h30m") is None
    for bad in ("* * * *", "60 * * * *", "* * * * 8", "*/0 * * * *", "@often", "TZ=UTC 0 * * * *"):
        with pytest.raises(CronError):
            parse_cron(bad)


def test_endpointslice_lease(cluster: Cluster) -> None:
    cluster.ok("apply", "-f", "-", input="""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: 80}]
endpoints:
- addresses: [10.1.0.1]
- addresses: [10.1.0.2]
""")
    eps = cluster.json("get", "endpointslice", "web-abc")
    assert eps["ports"] == [{"port": 80, "protocol": "TCP", "name": ""}]
    row = cluster.ok("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "--no-headers").split()
    assert row[:4] == ["web-abc", "IPv4", "80", "10.1.0.1,10.1.0.2"]
    err = cluster.fail("create", "-f", "-", input="""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: bad}
addressType: IPv5
endpoints: [{addresses: []}]
""")
    assert 'addressType: Unsupported value: "IPv5"' in err and "endpoints[0].addresses: Required value" in err
    cluster.ok("apply", "-f", "-", input="""apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: node-1, namespace: kube-node-lease}
spec: {holderIdentity: node-1, leaseDurationSeconds: 40}
""")
    row = cluster.ok("get", "leases", "-n", "kube-node-lease", "--no-headers").split()
    assert row[:2] == ["node-1", "node-1"]
    resources = cluster.ok("api-resources", "--api-group=batch", "-o", "name").split()
    assert resources == ["cronjobs.batch", "jobs.batch"]


def test_auth_whoami_and_can_i(cluster: Cluster) -> None:
    out = cluster.ok("auth", "whoami", "-o", "json")
    info = json.loads(out)["status"]["userInfo"]
    assert "system:masters" in info["groups"] and "system:authenticated" in info["groups"]
    assert cluster.ok("auth", "can-i", "create", "pods").strip() == "yes"
    assert cluster.ok("auth", "can-i", "delete", "nodes", "--all-namespaces").strip() == "yes"
    # another identity: a node agent's token may read pods but not delete deployments
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "system:node:n1", "groups": ["system:nodes", "system:authenticated"],
                    "resourceAttributes": {"verb": "list", "resource": "pods"}}}
    res = json.loads(cluster.ok("create", "--raw", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                "-f", "-", input=json.dumps(sar)))
    assert res["status"]["allowed"] is True
    sar["spec"]["resourceAttributes"] = {"verb": "delete", "group": "apps", "resource": "deployments"}
    res = json.loads(cluster.ok("create", "--raw", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                "-f", "-", input=json.dumps(sar)))
    assert res["status"]["allowed"] is False


def test_binding_and_eviction(cluster: Cluster) -> None:
    cluster.ok("run", "bound", "--image=nginx")
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
               "target": {"kind": "Node", "name": "node-a"}}
    path = "/api/v1/namespaces/default/pods/bound/binding"
    out = json.loads(cluster.ok("create", "--raw", path, "-f", "-", input=json.dumps(binding)))
    assert out["status"] == "Success"
    pod = cluster.json("get", "pod", "bound")
    assert pod["spec"]["nodeName"] == "node-a"  # type: ignore[index]
    assert {"type": "PodScheduled", "status": "True"}.items() <= pod["status"]["conditions"][0].items()  # type: ignore[index]
    binding["target"]["name"] = "node-b"  # type: ignore[index]
    err = cluster.fail("create", "--raw", path, "-f", "-", input=json.dumps(binding))
    assert 'pod bound is already assigned to node "node-a"' in err
    # a pod update may never change nodeName: only binding can
    err = cluster.fail("patch", "pod", "bound", "-p", '{"spec":{"nodeName":"node-b"}}')
    assert "Forbidden: pod updates may not change fields" in err
    cluster.ok("run", "evictme", "--image=nginx")
    ev = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "evictme"}}
    cluster.ok("create", "--raw", "/api/v1/namespaces/default/pods/evictme/eviction", "-f", "-",
               input=json.dumps(ev))
    assert "NotFound" in cluster.fail("get", "pod", "evictme")
    err = cluster.fail("create", "--raw", "/api/v1/namespaces/default/pods/evictme/eviction", "-f", "-",
                       input=json.dumps(ev))
    assert "NotFound" in err
    cluster.ok("delete", "pod", "bound", "--force", "--grace-period=0")


def test_node_always_shows_spec_and_status(cluster: Cluster) -> None:
    """As kube, whose Node spec and status are structs: a Node created with neither shows both, empty, and so
    does it after a patch that touches neither."""
    cluster.ok("create", "-f", "-", input='{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}}')
    node = cluster.json("get", "node", "bare")
    assert node["spec"] == {} and node["status"] == {}
    cluster.ok("label", "node", "bare", "zone=a")
    node = cluster.json("get", "node", "bare")
    assert node["spec"] == {} and node["status"] == {} and node["metadata"]["labels"]["zone"] == "a"
    cluster.ok("delete", "node", "bare")


def test_new_objects_show_the_status_fields_kube_always_writes(cluster: Cluster) -> None:
    """A create's answer is what kube gives before any controller wrote a status: the zero values of the status
    fields its Go types serialize even at zero, an empty status where all are omitted, a Lease's empty spec.
    The Python client's models read ``.status.replicas`` without a None check."""
    tmpl = {"metadata": {"labels": {"app": "z"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    workload = {"selector": {"matchLabels": {"app": "z"}}, "template": tmpl, "replicas": 0}
    want = {
        "Deployment": {}, "ReplicaSet": {"replicas": 0}, "StatefulSet": {"replicas": 0, "availableReplicas": 0},
        "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                      "numberReady": 0},
    }
    for kind, status in want.items():
        spec = {k: v for k, v in workload.items() if not (kind == "DaemonSet" and k == "replicas")}
        obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": f"z-{kind.lower()}"}, "spec": spec}
        created = json.loads(cluster.ok("create", "-f", "-", "-o", "json", input=json.dumps(obj)))
        assert created["status"] == status, kind
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "z-lease"}}
    assert json.loads(cluster.ok("create", "-f", "-", "-o", "json", input=json.dumps(lease)))["spec"] == {}


def test_default_service_account(cluster: Cluster) -> None:
    cluster.ok("create", "namespace", "team-a")
    assert cluster.ok("get", "sa", "-n", "team-a", "-o", "name").split() == ["serviceaccount/default"]
    for ns in ("default", "kube-system"):
        assert "serviceaccount/default" in cluster.ok("get", "sa", "-n", ns, "-o", "name").split()


def test_secrets_encrypted_at_rest(cluster: Cluster) -> None:
    cluster.ok("create", "secret", "generic", "db", "--from-literal=password=hunter2-plain")
    assert cluster.ok("get", "secret", "db", "-o", "jsonpath={.data.password}") == "aHVudGVyMi1wbGFpbg=="
    db = cluster.data_dir / "state.db"
    if not db.exists():
        pytest.skip("raw read of the store is checked on SQLite")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT value FROM kv WHERE name = '/registry/secrets/default/db'").fetchall()
    finally:
        conn.close()
    assert rows
    raw = bytes(rows[-1][0])
    assert raw.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert b"aHVudGVyMi1wbGFpbg" not in raw and b"hunter2" not in raw and b'"Secret"' not in raw


def test_encrypted_store_unit(tmp_path: Path) -> None:
    async def main() -> None:
        inner = await open_store(f"sqlite://{tmp_path}/s.db")
        enc = Encryptor.load(tmp_path)
        store = EncryptedStore(inner, enc)
        storage = Storage(store)
        ns, secret, cm = (REGISTRY.lookup("", "v1", p) for p in ("namespaces", "secrets", "configmaps"))
        assert ns and secret and cm
        await storage.create(ns, "", {"metadata": {"name": "default"}})
        await storage.create(secret, "default", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
        await storage.create(cm, "default", {"metadata": {"name": "c"}, "data": {"k": "v"}})
        assert (await storage.get(secret, "default", "s"))["data"] == {"k": "dg=="}
        assert Encryptor.is_encrypted((await inner.get("/registry/secrets/default/s")).value)
        assert not Encryptor.is_encrypted((await inner.get("/registry/configmaps/default/c")).value)
        # a ciphertext copied under another key does not open: 500 with a clear message
        kv = await inner.get("/registry/secrets/default/s")
        await inner.create("/registry/secrets/default/copy", kv.value)
        with pytest.raises(DecryptionFailed) as e:
            await storage.get(secret, "default", "copy")
        st = to_status(e.value)
        assert st.code == 500 and 'unable to transform key "/registry/secrets/default/copy"' in st.message
        await store.close()

    asyncio.run(main())


def test_workload_defaults_and_restart_policy(cluster: Cluster) -> None:
    sts = """apiVersion: apps/v1
kind: %s
metadata: {name: %s}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      restartPolicy: %s
      containers: [{name: c, image: busybox}]
"""
    cluster.ok("create", "-f", "-", input=sts % ("StatefulSet", "db", "Always"))
    spec = cluster.json("get", "statefulset", "db")["spec"]
    assert isinstance(spec, dict)
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["podManagementPolicy"] == "OrderedReady" and spec["replicas"] == 1
    for kind in ("DaemonSet", "Deployment"):
        err = cluster.fail("create", "-f", "-", input=sts % (kind, "never", "Never"))
        assert 'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"' in err
