"""Open311 GeoReport v2 rendering: the same documents as JSON or XML, and error bodies.

XML follows the spec's element names (``services/service``, ``service_requests/request``,
``service_definition``, ``errors/error``); ``None`` becomes an empty element, booleans
``true``/``false``. Errors are ``[{"code": 400, "description": "..."}]`` in JSON.

Example::

    render("json", "services", "service", [{"service_code": "flooding"}])
    georeport_error("xml", 404, "unknown service_request_id")
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any, Literal

from starlette.responses import Response

Format = Literal["json", "xml"]
FORMATS: frozenset[str] = frozenset({"json", "xml"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_element(k, v))
    elif isinstance(value, list):
        child_tag = tag[:-1] if tag.endswith("s") else "item"
        for v in value:
            el.append(_element(child_tag, v))
    else:
        el.text = _text(value)
    return el


def to_xml(root: str, item: str | None, doc: Any) -> bytes:
    """``doc`` as XML: a list becomes ``<root><item>…</item>…</root>``."""
    top = ET.Element(root)
    if item is not None and isinstance(doc, list):
        for entry in doc:
            top.append(_element(item, entry))
    elif isinstance(doc, dict):
        for k, v in doc.items():
            top.append(_element(k, v))
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def render(fmt: Format, root: str, item: str | None, doc: Any, status: int = 200) -> Response:
    headers = {"Cache-Control": "no-store"}
    if fmt == "xml":
        return Response(to_xml(root, item, doc), status, headers, "text/xml; charset=utf-8")
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), status, headers, "application/json")


def georeport_error(
    fmt: Format,
    status: int,
    description: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A GeoReport error body; ``code`` (machine-readable reason) goes in an extra field."""
    entry: dict[str, Any] = {"code": status, "description": description}
    if code is not None:
        entry["error"] = code
    response = render(fmt, "errors", "error", [entry], status)
    response.headers.update(headers or {})
    return response
