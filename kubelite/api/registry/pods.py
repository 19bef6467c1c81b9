"""core/v1 Pod and Service: the kinds with the most server-side defaulting and printing logic.

Pod status printing follows kubectl's ``printPod`` (the STATUS column shows the
most telling container reason, ``Terminating`` once deletion started). Service
cluster IPs and node ports are not defaulted here but allocated in the store
by :mod:`kubelite.api.allocators` once the Service is valid. A Pod's graceful
deletion period follows kube's ``CheckGracefulDelete``.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import Cause, invalid_value, not_supported, required
from kubelite.api.meta import age
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy
from kubelite.api.registry.podspec import default_pod_spec, validate_pod_spec

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def pod_status_reason(pod: Obj) -> str:
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        st = cs.get("state", {})
        if st.get("terminated", {}).get("exitCode", 0) != 0:
            reason = "Init:" + (st["terminated"].get("reason") or "Error")
            break
        if st.get("waiting", {}).get("reason") not in (None, "PodInitializing"):
            reason = "Init:" + st["waiting"]["reason"]
            break
    else:
        for cs in reversed(status.get("containerStatuses") or []):
            st = cs.get("state", {})
            if st.get("waiting", {}).get("reason"):
                reason = st["waiting"]["reason"]
            elif st.get("terminated", {}).get("reason"):
                reason = st["terminated"]["reason"]
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


# The DefaultTolerationSeconds admission plugin's value (kube-apiserver --default-not-ready-toleration-seconds
# and --default-unreachable-toleration-seconds); `kubelite server --default-toleration-seconds` sets it.
DEFAULT_TOLERATION_SECONDS = 300


class Pod(Strategy):
    kind, plural, singular = "Pod", "pods", "pod"
    short_names = ("po",)
    categories = ("all",)
    subresources = ("status", "binding", "log", "exec", "attach", "portforward", "eviction")

    def default(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            default_pod_spec(spec)
            spec.setdefault("serviceAccountName", "default")
            spec.setdefault("serviceAccount", spec["serviceAccountName"])
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            spec.setdefault("priority", 0)
            spec.setdefault("tolerations", [
                {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": DEFAULT_TOLERATION_SECONDS} for t in ("not-ready", "unreachable")])
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", "BestEffort")

    def validate_spec(self, obj: Obj) -> list[Cause]:
        return validate_pod_spec(obj.get("spec"), "spec")

    def graceful_delete_period(self, obj: Obj, requested: int | None) -> int | None:
        """kube's ``CheckGracefulDelete``: unscheduled or finished pods go at once, others get their grace."""
        spec, phase = obj.get("spec") or {}, (obj.get("status") or {}).get("phase")
        period = requested if requested is not None else int(spec.get("terminationGracePeriodSeconds") or 0)
        if not spec.get("nodeName") or phase in ("Failed", "Succeeded"):
            period = 0
        return max(period, 0)

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        out = self.validate(new)
        ns, os_ = dict(new.get("spec") or {}), dict(old.get("spec") or {})
        # mutable: container images, activeDeadlineSeconds, tolerations (additions); the rest is fixed
        for s in (ns, os_):
            for key in ("containers", "initContainers"):
                s[key] = [{k: v for k, v in c.items() if k != "image"} for c in s.get(key) or []]
            for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
                s.pop(key, None)
        # scheduling gates may be removed (that is how a gated pod is released), never added
        new_gates = [g.get("name") for g in ns.get("schedulingGates") or []]
        old_gates = [g.get("name") for g in os_.get("schedulingGates") or []]
        if set(new_gates) <= set(old_gates):
            ns.pop("schedulingGates", None)
            os_.pop("schedulingGates", None)
        if ns != os_:
            out.append(Cause("FieldValueForbidden", "spec", "Forbidden: pod updates may not change fields other "
                             "than `spec.containers[*].image`,`spec.initContainers[*].image`,"
                             "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                             "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                             "was previously negative)"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Ready", description="The aggregate readiness state of this pod for "
                                    "accepting traffic."),
                Column("Status", description="The aggregate status of the containers in this pod."),
                Column("Restarts", description="The number of times the containers in this pod have been "
                       "restarted and when the last container in this pod has restarted."),
                AGE_COLUMN, Column("IP", priority=1), Column("Node", priority=1),
                Column("Nominated Node", priority=1), Column("Readiness Gates", priority=1)]

    def cells(self, obj: Obj) -> list[Any]:
        status = obj.get("status", {})
        spec = obj.get("spec", {})
        css = status.get("containerStatuses") or []
        ready = sum(1 for c in css if c.get("ready"))
        restarts = sum(int(c.get("restartCount", 0)) for c in css)
        gates = spec.get("readinessGates") or []
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        gates_txt = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
        return [obj["metadata"]["name"], f"{ready}/{len(spec.get('containers') or [])}", pod_status_reason(obj),
                str(restarts), age(obj), status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
                status.get("nominatedNodeName") or "<none>", gates_txt if gates else "<none>"]

    def field_value(self, obj: Obj, field: str) -> str | None:
        spec, status = obj.get("spec", {}), obj.get("status", {})
        fields = {"spec.nodeName": spec.get("nodeName"), "spec.restartPolicy": spec.get("restartPolicy"),
                  "spec.schedulerName": spec.get("schedulerName"),
                  "spec.serviceAccountName": spec.get("serviceAccountName"),
                  "spec.hostNetwork": str(bool(spec.get("hostNetwork"))).lower(),
                  "status.phase": status.get("phase"), "status.podIP": status.get("podIP"),
                  "status.nominatedNodeName": status.get("nominatedNodeName")}
        if field in fields:
            return str(fields[field] or "")
        return super().field_value(obj, field)


class Service(Strategy):
    kind, plural, singular = "Service", "services", "service"
    short_names = ("svc",)
    categories = ("all",)
    subresources = ("status", "proxy")
    name_check = "dns1035"

    def default(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            if spec.get("clusterIP"):  # else the allocator (kubelite.api.allocators) picks one after validation
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
        obj.setdefault("status", {}).setdefault("loadBalancer", {})

    def prepare_update(self, new: Obj, old: Obj) -> None:
        super().prepare_update(new, old)
        ns, os_ = new.get("spec"), old.get("spec") or {}
        if isinstance(ns, dict) and not ns.get("clusterIP") and os_.get("clusterIP") \
                and ns.get("type", "ClusterIP") != "ExternalName":
            ns["clusterIP"], ns["clusterIPs"] = os_["clusterIP"], os_.get("clusterIPs", [os_["clusterIP"]])
        if isinstance(ns, dict) and ns.get("type") in ("NodePort", "LoadBalancer"):  # keep allocated node ports
            old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                         for p in os_.get("ports") or [] if isinstance(p, dict)}
            for p in ns.get("ports") or []:
                if isinstance(p, dict) and p.get("nodePort") is None:
                    np = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
                    if np is not None:
                        p["nodePort"] = np

    def validate_spec(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [required("spec")]
        out: list[Cause] = []
        if spec.get("type") not in SERVICE_TYPES:
            out.append(not_supported("spec.type", spec.get("type"), SERVICE_TYPES))
        ports = spec.get("ports") or []
        if not ports and spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
            out.append(required("spec.ports"))
        for i, p in enumerate(ports):
            port = p.get("port") if isinstance(p, dict) else None
            if not isinstance(port, int) or not 0 < port < 65536:
                out.append(invalid_value(f"spec.ports[{i}].port", port, "must be between 1 and 65535, inclusive"))
            if len(ports) > 1 and isinstance(p, dict) and not p.get("name"):
                out.append(required(f"spec.ports[{i}].name"))
            if isinstance(p, dict) and p.get("nodePort") is not None and spec.get("type") in ("ClusterIP",
                                                                                              "ExternalName"):
                out.append(Cause("FieldValueForbidden", f"spec.ports[{i}].nodePort",
                                 f"Forbidden: may not be used when `type` is '{spec.get('type')}'"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        out = self.validate(new)
        a, b = (new.get("spec") or {}).get("clusterIP"), (old.get("spec") or {}).get("clusterIP")
        if b and a != b and not (not a and (new.get("spec") or {}).get("type") == "ExternalName"):
            out.append(invalid_value("spec.clusterIPs[0]", a, "may not change once set"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Type"), Column("Cluster-IP"), Column("External-IP"), Column("Port(s)"),
                AGE_COLUMN, Column("Selector", priority=1)]

    def cells(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec", {})
        ports = []
        for p in spec.get("ports") or []:
            np = f":{p['nodePort']}" if p.get("nodePort") else ""
            ports.append(f"{p.get('port')}{np}/{p.get('protocol', 'TCP')}")
        ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        ext = spec.get("externalIPs") or [i.get("ip") or i.get("hostname") for i in ingress]
        if spec.get("type") == "ExternalName":
            ext = [spec.get("externalName", "")]
        ext_txt = ",".join(ext) if ext else "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
        sel = spec.get("selector") or {}
        return [obj["metadata"]["name"], spec.get("type", ""), spec.get("clusterIP") or "<none>", ext_txt,
                ",".join(ports) or "<none>", age(obj), ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"]
