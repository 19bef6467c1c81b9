"""Request bodies in, responses out: content types, size limits, and the Accept header's wishes.

Bodies may be JSON, YAML, one of the patch media types, or protobuf (:mod:`kubelite.api.protobuf`).
Everything a client can get wrong here is a 4xx with Kubernetes' wording:
malformed JSON/YAML (400), an unknown media type (415), a body over 3 MiB
(413). Responses are always JSON; a client that asks for ``as=Table`` gets the
server-side table of :mod:`kubelite.api.tables`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kubelite.api.errors import BadRequest, TooLarge, UnsupportedMediaType

MAX_BODY = 3 * 1024 * 1024
JSON_TYPES = ("application/json", "application/merge-patch+json", "application/json-patch+json",
              "application/strategic-merge-patch+json")
YAML_TYPES = ("application/yaml", "application/apply-patch+yaml", "application/x-yaml", "text/yaml")
PROTOBUF = "application/vnd.kubernetes.protobuf"


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY:
        raise TooLarge(f"Request entity too large: limit is {MAX_BODY}")


def decode_body(content_type: str, body: bytes) -> Any:
    check_size(body)
    mt = media_type(content_type) or "application/json"
    if mt in JSON_TYPES:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # NaN, 64-bit overflow, invalid: the standard parser decides, and words the error
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"couldn't get version/kind; json parse error: {e}") from None
    if mt in YAML_TYPES:
        try:
            return yaml.safe_load(body)
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise BadRequest(f"error converting YAML to JSON: yaml: {str(e).splitlines()[0]}") from None
    if mt == PROTOBUF:
        from kubelite.api.protobuf import decode_unknown

        return decode_unknown(body)
    raise UnsupportedMediaType(f'the body of the request was in an unknown format - accepted media types '
                               f'include: {", ".join(JSON_TYPES[:1] + YAML_TYPES[:1] + (PROTOBUF,))}')


def decode_object(content_type: str, body: bytes) -> dict[str, Any]:
    obj = decode_body(content_type, body)
    if not isinstance(obj, dict):
        raise BadRequest("Object 'Kind' is missing in '" + body[:200].decode(errors="replace") + "'")
    return obj


@dataclass(frozen=True)
class Accept:
    """What the client wants back: a plain object, a Table, or (as a metadata-only list) PartialObjectMetadata."""

    table: bool = False
    partial: bool = False

    @classmethod
    def parse(cls, header: str) -> Accept:
        for part in header.split(","):
            params = {}
            for p in part.split(";")[1:]:
                k, _, v = p.strip().partition("=")
                params[k] = v
            if params.get("g") != "meta.k8s.io":
                if media_type(part) in ("application/json", "*/*", "application/*", "", PROTOBUF, "application/yaml"):
                    return cls()
                continue
            if params.get("as") == "Table":
                return cls(table=True)
            if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return cls(partial=True)
        return cls()
