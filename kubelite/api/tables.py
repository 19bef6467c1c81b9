"""Server-side printing: ``meta.k8s.io/v1`` Table objects for ``kubectl get``.

kubectl asks for ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1`` and
prints what it gets, so the columns (and ``-o wide``'s extra ones, marked with
``priority: 1``) come from each kind's strategy. Each row carries the object's
metadata as PartialObjectMetadata (``includeObject=Metadata``, the default),
which kubectl needs for ``--show-labels`` and the NAMESPACE column of ``-A``.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import BadRequest
from kubelite.api.registry.base import Obj, Strategy

INCLUDE = ("None", "Metadata", "Object")


def partial(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def row(s: Strategy, obj: Obj, include: str) -> dict[str, Any]:
    r: dict[str, Any] = {"cells": s.cells(obj)}
    if include == "Metadata":
        r["object"] = partial(obj)
    elif include == "Object":
        r["object"] = obj
    return r


def table(s: Strategy, objs: list[Obj], include: str = "Metadata", resource_version: str = "",
          cont: str = "", headers: bool = True) -> Obj:
    if include not in INCLUDE:
        raise BadRequest(f'includeObject: Unsupported value: "{include}": supported values: '
                         + ", ".join(f'"{i}"' for i in INCLUDE))
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if cont:
        meta["continue"] = cont
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": [c.as_dict() for c in s.columns()] if headers else [],
            "rows": [row(s, o, include) for o in objs]}
