"""The protobuf request decoder against the real kubectl's bytes, hand-built messages and broken input.

The reference for every kubectl case is kubectl itself: ``--dry-run=client -o
json`` prints the very object the same command POSTs, serialized by Go's JSON
encoder, so ``decode(captured body)`` must equal it exactly.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.proto.schema import go_duration
from kubelite.api.protobuf import CONTENT_TYPE, UnsupportedKind, decode, is_protobuf, supported_kinds
from kubelite.errors import Invalid
from tests.api.kubectl_stub import Stub, running_stub

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")

# --- a tiny encoder, for the cases kubectl never sends -------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vfield(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def lfield(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes, *extra: bytes) -> bytes:
    type_meta = lfield(1, api_version) + lfield(2, kind)
    return b"k8s\x00" + lfield(1, type_meta) + lfield(2, raw) + b"".join(extra)


def meta(name: str, *extra: bytes) -> bytes:
    return lfield(1, lfield(1, name) + b"".join(extra))


# --- real kubectl bodies ---------------------------------------------------------------------------

COMMANDS: list[list[str]] = [
    ["create", "configmap", "cm", "--from-literal=a=b", "--from-literal=empty="],
    ["create", "secret", "generic", "s", "--from-literal=k=v", "--type=Opaque"],
    ["create", "secret", "tls", "t", "--cert={crt}", "--key={key}"],
    ["create", "secret", "docker-registry", "reg", "--docker-username=u", "--docker-password=p"],
    ["create", "namespace", "n"],
    ["create", "deployment", "d", "--image=busybox", "--replicas=2", "--port=80"],
    ["create", "deployment", "d2", "--image=busybox", "--image=nginx:1.27", "--replicas=0"],
    ["create", "service", "nodeport", "sv", "--tcp=80:8080", "--node-port=30080"],
    ["create", "service", "clusterip", "sc", "--tcp=80:http", "--tcp=443"],
    ["create", "service", "clusterip", "headless", "--clusterip=None"],
    ["create", "service", "loadbalancer", "lb", "--tcp=443:8443"],
    ["create", "service", "externalname", "ext", "--external-name=example.com"],
    ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    [
        "create",
        "cronjob",
        "c",
        "--image=busybox",
        "--schedule=*/1 * * * *",
        "--restart=OnFailure",
        "--",
        "echo",
    ],
    ["create", "quota", "q", "--hard=pods=3,cpu=500m,memory=1Gi", "--scopes=BestEffort"],
    ["create", "serviceaccount", "sa"],
    ["create", "priorityclass", "pc", "--value=-5", "--description=low", "--preemption-policy=Never"],
    ["create", "priorityclass", "zero", "--value=0", "--global-default"],
    ["create", "poddisruptionbudget", "pdb", "--selector=app=x", "--min-available=50%"],
    ["create", "poddisruptionbudget", "pdb2", "--selector=app=x", "--max-unavailable=1"],
    [
        "create",
        "ingress",
        "ing",
        "--rule=foo.com/bar*=svc:8080,tls=sec",
        "--class=nginx",
        "--default-backend=d:http",
    ],
    ["create", "role", "r", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"],
    ["create", "rolebinding", "rb", "--role=r", "--user=u", "--serviceaccount=default:sa", "--group=g"],
    ["create", "clusterrole", "cr", "--verb=get", "--non-resource-url=/logs/*"],
    ["create", "clusterrole", "agg", "--aggregation-rule=rbac.example.com/aggregate=true"],
    ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--group=g"],
]


def dry_run_json(stub: Stub, command: list[str]) -> dict[str, Any]:
    """What kubectl prints for the same command under --dry-run=client (flags go before any ``--``)."""
    cut = command.index("--") if "--" in command else len(command)
    result = stub.kubectl(*command[:cut], "--dry-run=client", "-o", "json", *command[cut:])
    obj: dict[str, Any] = json.loads(result.stdout)
    return obj


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stub]:
    workdir = tmp_path_factory.mktemp("kubectl-stub")
    with running_stub(workdir) as server:
        yield server


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    workdir = tmp_path_factory.mktemp("tls")
    crt, key = workdir / "tls.crt", workdir / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt)]
        + ["-days", "1", "-subj", "/CN=kubelite-test"],
        check=True,
        capture_output=True,
    )
    return {"crt": str(crt), "key": str(key)}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[1:3]))
def test_kubectl_create_body_decodes_to_its_json(stub: Stub, tls: dict[str, str], command: list[str]) -> None:
    command = [arg.format_map(tls) for arg in command]
    captured = stub.capture(*command)
    assert captured.content_type == CONTENT_TYPE
    assert is_protobuf(captured.body, captured.content_type)
    assert decode(captured.body) == dry_run_json(stub, command)


def test_job_from_cronjob_carries_owner_reference(stub: Stub) -> None:
    cronjob = dry_run_json(stub, ["create", "cronjob", "nightly", "--image=busybox", "--schedule=@daily"])
    cronjob["metadata"].update(uid="4a8f7a52-0b7c-4a0e-9a56-0e4f3b7d1a11", namespace="default")
    stub.objects["/apis/batch/v1/namespaces/default/cronjobs/nightly"] = cronjob
    command = ["create", "job", "manual", "--from=cronjob/nightly"]
    obj = decode(stub.capture(*command).body)
    assert obj == dry_run_json(stub, command)
    owner = obj["metadata"]["ownerReferences"][0]
    assert owner["uid"] == cronjob["metadata"]["uid"] and owner["controller"] is True


def test_deployment_fields_survive(stub: Stub) -> None:
    obj = decode(
        stub.capture("create", "deployment", "web", "--image=busybox", "--replicas=2", "--port=80").body
    )
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    assert obj["metadata"] == {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}}
    assert obj["spec"]["replicas"] == 2
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "busybox",
        "image": "busybox",
        "ports": [{"containerPort": 80}],
        "resources": {},
    }


def test_binary_data_is_base64(stub: Stub, tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)))
    secret = decode(stub.capture("create", "secret", "generic", "bin", f"--from-file=k={blob}").body)
    assert base64.b64decode(secret["data"]["k"]) == bytes(range(256))
    configmap = decode(stub.capture("create", "configmap", "bin", f"--from-file=k={blob}").body)
    assert base64.b64decode(configmap["binaryData"]["k"]) == bytes(range(256))


# --- hand-built messages ----------------------------------------------------------------------------


def test_time_quantity_intorstring_and_inline_volume_source() -> None:
    stamp = lfield(8, vfield(1, 1_700_000_000) + vfield(2, 123_456_789))  # nanoseconds are dropped
    port = lfield(1, "http") + vfield(3, 80)
    volume = lfield(1, "scratch") + lfield(2, lfield(2, lfield(1, "Memory") + lfield(2, lfield(1, "64Mi"))))
    limits = lfield(1, lfield(1, "cpu") + lfield(2, lfield(1, "250m")))
    container = lfield(1, "c") + lfield(2, "busybox") + lfield(8, limits) + lfield(6, port)
    spec = lfield(1, volume) + lfield(2, container) + vfield(25, (-3) & ((1 << 64) - 1))
    obj = decode(envelope("v1", "Pod", meta("p", stamp) + lfield(2, spec)))
    assert obj["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert obj["spec"]["volumes"] == [
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    ]
    assert obj["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "250m"}}
    assert obj["spec"]["containers"][0]["ports"] == [{"name": "http", "containerPort": 80}]
    assert obj["spec"]["priority"] == -3  # a negative int32 travels as a 10-byte varint


def test_intorstring_int_and_string_forms() -> None:
    def pdb(value: bytes) -> Any:
        return decode(envelope("policy/v1", "PodDisruptionBudget", meta("x") + lfield(2, lfield(1, value))))

    assert pdb(vfield(1, 0) + vfield(2, 2))["spec"]["minAvailable"] == 2
    assert pdb(vfield(1, 1) + lfield(3, "25%"))["spec"]["minAvailable"] == "25%"
    with pytest.raises(Invalid, match="IntOrString"):
        pdb(vfield(1, 7))


def test_unknown_fields_are_skipped_and_zero_values_follow_omitempty() -> None:
    unknown = vfield(999, 5) + lfield(998, b"\x01\x02") + varint(997 << 3 | 1) + bytes(8)
    raw = meta("cm", lfield(2, ""), vfield(7, 0)) + unknown + lfield(2, lfield(1, "k") + lfield(2, ""))
    obj = decode(envelope("v1", "ConfigMap", raw + vfield(4, 0)))
    # generateName "" and generation 0 are omitempty; the map value "" and the *bool false are kept.
    assert obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm"},
        "data": {"k": ""},
        "immutable": False,
    }


def test_packed_and_unpacked_repeated_ints_and_null_lists() -> None:
    exit_codes = lfield(2, "In") + lfield(3, varint(1) + varint(2)) + vfield(3, 3)
    rule = lfield(1, "FailJob") + lfield(2, exit_codes)
    spec = lfield(11, lfield(1, rule)) + lfield(6, lfield(2, lfield(2, lfield(1, "c"))))
    obj = decode(envelope("batch/v1", "Job", meta("j") + lfield(2, spec)))
    assert obj["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [1, 2, 3]
    role = decode(envelope("rbac.authorization.k8s.io/v1", "ClusterRole", meta("r")))
    assert role["rules"] is None  # Go's JSON writes a nil slice without omitempty as null


def test_duration_formatting_matches_go() -> None:
    cases = {0: "0s", 1: "1ns", 1500: "1.5µs", 250_000_000: "250ms", 1_500_000_000: "1.5s"}
    cases |= {60_000_000_000: "1m0s", 3_600_000_000_000: "1h0m0s", -90_000_000_000: "-1m30s"}
    for nanos, text in cases.items():
        assert go_duration(nanos) == text


def test_supported_kinds_cover_every_kubectl_create_subcommand() -> None:
    wanted = {
        ("v1", kind)
        for kind in ("ConfigMap", "Secret", "Namespace", "Service", "ResourceQuota", "ServiceAccount")
    } | {
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("policy/v1", "PodDisruptionBudget"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("networking.k8s.io/v1", "Ingress"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    }
    assert wanted <= set(supported_kinds())


def test_is_protobuf() -> None:
    assert is_protobuf(b"", "application/vnd.kubernetes.protobuf")
    assert is_protobuf(b"", "Application/Vnd.Kubernetes.Protobuf; charset=x")
    assert not is_protobuf(b"k8s\x00", "application/json")
    assert is_protobuf(b"k8s\x00...", "")
    assert not is_protobuf(b"{}", "")


# --- malformed input --------------------------------------------------------------------------------

GOOD = envelope("v1", "Namespace", meta("n"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "magic"),
        (b"k8s\x01" + GOOD[4:], "magic"),
        (b'{"kind":"Namespace"}', "magic"),
        (b"k8s\x00\x0a\x80", "truncated varint"),
        (b"k8s\x00\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "varint longer"),
        (b"k8s\x00\x0a\x05ab", "claims 5 bytes"),
        (b"k8s\x00\x0e\x00", "invalid wire type"),
        (b"k8s\x00\x0b", "group"),
        (b"k8s\x00\x00\x00", "field number 0"),
        (b"k8s\x00\x08\x01", "length-delimited"),
        (b"k8s\x00" + lfield(2, b"x"), "apiVersion and kind"),
        (envelope("v1", "Namespace", vfield(1, 3)), "Namespace.metadata must be length-delimited"),
        (envelope("v1", "Namespace", meta("n", vfield(1, 1))), "ObjectMeta.name is string"),
        (envelope("v1", "Namespace", meta("n", lfield(7, b"x"))), "ObjectMeta.generation is int"),
        (envelope("v1", "Namespace", meta("n"), lfield(3, "gzip")), "content encoding"),
        (envelope("v1", "Namespace", meta("n"), lfield(4, "text/plain")), "content type"),
        (envelope("v1", "Namespace", meta("n", lfield(8, vfield(1, 1 << 62)))), "out of range"),
    ],
)
def test_malformed_bodies_are_invalid(body: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        decode(body)


def test_unknown_kind_is_unsupported() -> None:
    with pytest.raises(UnsupportedKind, match="storage.k8s.io/v1, Kind=StorageClass"):
        decode(envelope("storage.k8s.io/v1", "StorageClass", meta("fast")))
    assert issubclass(UnsupportedKind, Invalid)


def test_embedded_json_is_accepted() -> None:
    body = envelope(
        "v1", "Namespace", b'{"apiVersion":"v1","kind":"Namespace"}', lfield(4, "application/json")
    )
    assert decode(body) == {"apiVersion": "v1", "kind": "Namespace"}


def test_deep_nesting_is_refused() -> None:
    # LabelSelectorRequirement cannot nest, but an inline chain can be repeated: use a self-similar
    # body that is merely very long instead, and a nesting bomb through FieldsV1's JSON.
    fields_v1 = lfield(7, lfield(1, b"[" * 100_000))
    with pytest.raises(Invalid, match="FieldsV1"):
        decode(envelope("v1", "Namespace", meta("n", lfield(17, fields_v1))))


def test_every_truncation_and_random_corruption_is_invalid_or_decodes(stub: Stub) -> None:
    body = stub.capture("create", "deployment", "fuzz", "--image=busybox", "--replicas=2", "--port=80").body
    rng = random.Random(3)
    candidates = [body[:cut] for cut in range(len(body))]
    for _ in range(2000):
        mutated = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(4, len(mutated))] = rng.randrange(256)
        candidates.append(bytes(mutated))
    for candidate in candidates:
        try:
            decode(candidate)
        except Invalid:
            pass
