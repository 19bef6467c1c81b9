"""The per-kind strategy: what a resource is called, where it lives, and how it is defaulted and checked.

As in kube-apiserver's ``registry/`` packages, each kind is one small class
that the generic REST storage consults at fixed points: ``default`` then
``validate`` on create, ``prepare_update`` (keep what the main resource may not
change, e.g. ``status``) then ``validate`` on update, and ``columns``/``cells``
for ``kubectl get``'s server-side Table. The base class gives every kind the
generic behaviour, so a kind overrides only what differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from kubelite.api.errors import Cause, Resource
from kubelite.api.meta import age, validate_object_meta

if TYPE_CHECKING:
    from kubelite.api.storage import Storage

Obj = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME_COLUMN = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE_COLUMN = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this "
                    "object was created.")


class Strategy:
    """A kind's identity and behaviour; subclasses set the class attributes and override hooks."""

    group: ClassVar[str] = ""
    version: ClassVar[str] = "v1"
    kind: ClassVar[str] = ""
    plural: ClassVar[str] = ""
    singular: ClassVar[str] = ""
    namespaced: ClassVar[bool] = True
    short_names: ClassVar[tuple[str, ...]] = ()
    categories: ClassVar[tuple[str, ...]] = ()
    subresources: ClassVar[tuple[str, ...]] = ()  # "status", "scale"
    name_check: ClassVar[str] = "subdomain"  # subdomain | label | dns1035 | path
    verbs: ClassVar[tuple[str, ...]] = ALL_VERBS
    # schemas of the bundled Kubernetes set that :meth:`openapi_schema` refers to
    openapi_refs: ClassVar[tuple[str, ...]] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def resource(self) -> Resource:
        return Resource(self.group, self.plural, self.kind)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    # -- hooks ---------------------------------------------------------------

    def openapi_schema(self) -> Obj | None:
        """The kind's OpenAPI schema when the bundled Kubernetes schemas lack it (None: an open object)."""
        return None

    def storage_view(self, storage: Storage) -> Storage:
        """The storage requests for this kind use; a kind stored in another version's shape converts here."""
        return storage

    # The parts kube's Go types always serialize (structs, and the ints in them without omitempty), with the
    # zero values they show before anything set them: clients read these without a fallback.
    always_shown: ClassVar[dict[str, dict[str, int]]] = {}

    def complete(self, obj: Obj) -> None:
        """The server's defaulting of a write: what kube always shows, then the kind's :meth:`default`."""
        for part, zeros in self.always_shown.items():
            if obj.get(part) is None:
                obj[part] = {}
            if isinstance(obj[part], dict):
                for field, zero in zeros.items():
                    obj[part].setdefault(field, zero)
        self.default(obj)

    def default(self, obj: Obj) -> None:
        """Fill in defaults in place (the server's view of an object is always defaulted)."""

    def validate(self, obj: Obj) -> list[Cause]:
        meta = obj.get("metadata") or {}
        return validate_object_meta(meta, self.namespaced, self.name_check) + self.validate_spec(obj)

    def validate_spec(self, obj: Obj) -> list[Cause]:
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        return self.validate(new)

    def prepare_create(self, obj: Obj) -> None:
        """Reset what a create may not set; for kinds with a status subresource, a fresh status."""

    def prepare_update(self, new: Obj, old: Obj) -> None:
        """The main resource cannot change the status of a kind that has a status subresource."""
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def prepare_status_update(self, new: Obj, old: Obj) -> None:
        """The status subresource changes only the status (and nothing else)."""
        keep = dict(old)
        keep["status"] = new.get("status")
        if keep["status"] is None:
            keep.pop("status")
        new.clear()
        new.update(keep)

    def graceful_delete_period(self, obj: Obj, requested: int | None) -> int | None:
        """Seconds a delete waits (``deletionTimestamp`` in the future); None: the kind is deleted at once."""
        return None

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        """Whether ``metadata.generation`` must be bumped: anything but metadata and status changed."""
        skip = {"metadata", "status", "apiVersion", "kind"}
        return {k: v for k, v in new.items() if k not in skip} != {k: v for k, v in old.items() if k not in skip}

    # -- table ---------------------------------------------------------------

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, AGE_COLUMN]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"].get("name", ""), age(obj)]

    def field_value(self, obj: Obj, field: str) -> str | None:
        """The value of a field selector's field, None if the kind does not support it."""
        meta = obj.get("metadata", {})
        if field == "metadata.name":
            return str(meta.get("name", ""))
        if field == "metadata.namespace":
            return str(meta.get("namespace", ""))
        return None
