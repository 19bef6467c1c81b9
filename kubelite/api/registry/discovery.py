"""discovery.k8s.io/v1 EndpointSlice: the scalable successor of Endpoints.

The endpoints controller (issue 5) writes them and kube-proxy-like service
proxying reads them; here they get Kubernetes' defaults (port protocol TCP,
empty port name) and the checks kube-apiserver makes: a supported address
type, 1 to 100 addresses per endpoint, at most 1000 endpoints and 100 ports.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import Cause, invalid_value, not_supported, required
from kubelite.api.meta import age
from kubelite.api.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy

ADDRESS_TYPES = ["IPv4", "IPv6", "FQDN"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]


class EndpointSlice(Strategy):
    group, kind, plural, singular = "discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice"

    def default(self, obj: Obj) -> None:
        for p in obj.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("name", "")

    def validate_spec(self, obj: Obj) -> list[Cause]:
        out: list[Cause] = []
        at = obj.get("addressType")
        if not at:
            out.append(required("addressType"))
        elif at not in ADDRESS_TYPES:
            out.append(not_supported("addressType", at, ADDRESS_TYPES))
        eps = obj.get("endpoints") or []
        if not isinstance(eps, list):
            return out + [invalid_value("endpoints", eps, "must be a list")]
        if len(eps) > 1000:
            out.append(Cause("FieldValueTooMany", "endpoints", f"Too many: {len(eps)}: must have at most 1000 items"))
        for i, ep in enumerate(eps):
            addrs = ep.get("addresses") if isinstance(ep, dict) else None
            if not isinstance(addrs, list) or not addrs:
                out.append(required(f"endpoints[{i}].addresses", "must contain at least 1 address"))
            elif len(addrs) > 100:
                out.append(Cause("FieldValueTooMany", f"endpoints[{i}].addresses",
                                 f"Too many: {len(addrs)}: must have at most 100 items"))
        ports = obj.get("ports") or []
        if not isinstance(ports, list):
            return out + [invalid_value("ports", ports, "must be a list")]
        for i, p in enumerate(ports):
            if not isinstance(p, dict):
                out.append(invalid_value(f"ports[{i}]", p, "must be an object"))
                continue
            if p.get("protocol") not in PROTOCOLS:
                out.append(not_supported(f"ports[{i}].protocol", p.get("protocol"), PROTOCOLS))
            port = p.get("port")
            if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
                out.append(invalid_value(f"ports[{i}].port", port, "must be between 1 and 65535, inclusive"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        out = self.validate(new)
        if new.get("addressType") != old.get("addressType"):
            out.append(invalid_value("addressType", new.get("addressType"), "field is immutable"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("AddressType"), Column("Ports"), Column("Endpoints"), AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        ports = obj.get("ports")
        if ports is None:
            ports_txt = "<unset>"
        else:
            ports_txt = ",".join(str(p.get("port", "")) if p.get("port") is not None else "<unset>"
                                 for p in ports) or "<unset>"
        addrs = [a for ep in obj.get("endpoints") or [] for a in ep.get("addresses") or []]
        shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
        return [obj["metadata"]["name"], obj.get("addressType", ""), ports_txt, shown or "<unset>", age(obj)]

    def field_value(self, obj: Obj, field: str) -> str | None:
        if field == "addressType":
            return str(obj.get("addressType", ""))
        return super().field_value(obj, field)
