"""Kubernetes protobuf, read side: the wire format (``wire``), the table-driven walker
(``schema``) and one module of field tables per API group. The public entry point
is :mod:`kubelite.api.protobuf`.

The tables were derived from k8s.io/api and k8s.io/apimachinery v0.36.3: field
numbers and types from each group's ``generated.proto``, JSON names, inlining and
``omitempty`` from the Go struct tags in ``types.go``. Protobuf fields are only
ever added, so tables from a newer release decode what kubectl 1.32 sends.
"""
