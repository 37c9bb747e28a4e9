"""``GET /openapi.json``: the HTTP API as an OpenAPI 3.1 document, built from the app's routes.

Every route of the app is listed (path, methods, the permission row's description and roles as
``x-ioc-roles``), so the document never misses an endpoint. The machine-facing contracts -
ingest, login/logout, who-am-I, health and this document - carry full request and response
schemas (tag ``contract``); the test suite fuzzes the running server against them with
schemathesis (``tests/security/test_openapi_fuzz.py``). Other routes are listed with their path
parameters and a ``default`` response until their owners describe them here.

Example::

    curl -s http://127.0.0.1:8080/openapi.json | jq '.paths | keys'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from dashboard.auth import guarded
from dashboard.responses import json_response
from ioc.domain.auth import ENDPOINTS, Principal

_PARAM: Final = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
_TYPES: Final = {"int": "integer", "float": "number", "uuid": "string", "path": "string"}
_JSON: Final = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str = "Error", **headers: str) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}
    if headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return out


_RETRY: Final = {"Retry-After": "seconds to wait before retrying"}
_OBSERVATION: Final = {
    "type": "object",
    "description": "A native observation (NGSI-LD key-values entities are accepted too).",
    "properties": {
        "sensor_id": {"type": "string"},
        "time": {"type": "string", "description": "ISO 8601 with a UTC offset"},
        "quantity": {"type": "string"},
        "value": {"type": "number"},
        "unit": {"type": "string"},
        "quality": {"enum": ["good", "suspect", "estimated"]},
        "event_id": {"type": "string", "format": "uuid"},
    },
}
SCHEMAS: Final[dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "Rejection": {
        "type": "object",
        "required": ["index", "reason", "message"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "reason": {"type": "string"},
            "field": {"type": ["string", "null"]},
            "message": {"type": "string"},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["accepted", "rejected"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 1},
            "rejected": {"type": "array", "items": _ref("Rejection")},
        },
    },
    "Refused": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "rejected": {"type": "array", "items": _ref("Rejection")},
        },
    },
    "Observations": {
        "oneOf": [
            _OBSERVATION,
            {"type": "array", "items": _OBSERVATION},
            {
                "type": "object",
                "required": ["observations"],
                "properties": {"observations": {"type": "array", "items": _OBSERVATION}},
            },
        ]
    },
    "Credentials": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string"},
            "password": {"type": "string"},
            "next": {"type": "string"},
        },
    },
    "Session": {
        "type": "object",
        "required": ["username", "role", "expires_at"],
        "properties": {
            "username": {"type": "string"},
            "role": {"type": "string"},
            "expires_at": {"type": "string"},
        },
    },
    "Me": {
        "type": "object",
        "required": ["username", "kind", "role", "channels"],
        "properties": {
            "username": {"type": "string"},
            "kind": {"enum": ["user", "apikey"]},
            "role": {"type": "string"},
            "department": {"type": ["string", "null"]},
            "channels": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["ok", "degraded", "down"]},
            "components": {"type": "object"},
        },
    },
    "OK": {"type": "object", "required": ["ok"], "properties": {"ok": {"const": True}}},
}

# Full descriptions of the machine-facing operations: route name -> method -> operation.
CONTRACTS: Final[dict[str, dict[str, dict[str, Any]]]] = {
    "ingest": {
        "post": {
            "security": [{"apiKey": []}, {"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {_JSON: {"schema": _ref("Observations")}},
            },
            "responses": {
                "202": _answer("accepted (some items may be rejected)", "Accepted"),
                "400": _answer("malformed JSON"),
                "401": _answer("missing or invalid API key"),
                "403": _answer("the key's role may not ingest"),
                "413": _answer("body or batch too large"),
                "415": _answer("not application/json"),
                "422": _answer("no valid item", "Refused"),
                "429": _answer("rate limited", **_RETRY),
                "503": _answer("broker or database unavailable", **_RETRY),
            },
        }
    },
    "login": {
        "post": {
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("Credentials")}}},
            "responses": {
                "200": _answer("session created (cookie ioc_session)", "Session"),
                "400": _answer("malformed or incomplete"),
                "401": _answer("wrong user name or password"),
                "403": _answer("cross-origin login"),
                "413": _answer("body too large"),
                "429": _answer("too many failures", **_RETRY),
                "503": _answer("database unavailable", **_RETRY),
            },
        }
    },
    "logout": {
        "post": {
            "parameters": [{"name": "Accept", "in": "header", "schema": {"const": _JSON}}],
            "responses": {
                "200": _answer("session ended (Accept: application/json)", "OK"),
                "303": {"description": "session ended; a form post is sent to the login page"},
                "403": _answer("cookie session without our Origin (CSRF)"),
                "503": _answer("database unavailable", **_RETRY),
            },
        }
    },
    "me": {
        "get": {
            "security": [{"apiKey": []}, {"bearer": []}, {"session": []}],
            "responses": {
                "200": _answer("the caller", "Me"),
                "401": _answer("not authenticated"),
                "403": _answer("role may not use this endpoint"),
                "429": _answer("rate limited", **_RETRY),
                "503": _answer("database unavailable", **_RETRY),
            },
        }
    },
    "healthz": {
        "get": {
            "responses": {
                "200": _answer("ok", "Health"),
                "503": _answer("degraded or down", "Health"),
            }
        }
    },
    "openapi": {
        "get": {
            "responses": {
                "200": {
                    "description": "this document",
                    "content": {_JSON: {"schema": {"type": "object"}}},
                }
            }
        }
    },
}


def _walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, route
        elif isinstance(route, Mount) and route.name != "static":
            yield from _walk(route.routes, prefix + route.path)


def _path_parameters(path: str) -> tuple[str, list[dict[str, Any]]]:
    params = [
        {
            "name": m.group(1),
            "in": "path",
            "required": True,
            "schema": {"type": _TYPES.get(m.group(2) or "", "string")},
        }
        for m in _PARAM.finditer(path)
    ]
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path), params


def document(routes: Iterable[BaseRoute], server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (an app's route table)."""
    paths: dict[str, dict[str, Any]] = {}
    for raw_path, route in _walk(routes):
        path, params = _path_parameters(raw_path)
        permission = ENDPOINTS[route.name]
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            contract = CONTRACTS.get(route.name, {}).get(method.lower())
            operation: dict[str, Any] = {
                "operationId": f"{route.name}_{method.lower()}",
                "summary": permission.description,
                "tags": ["contract" if contract else "listed"],
                "x-ioc-roles": sorted(permission.roles),
            }
            if params:
                operation["parameters"] = params
            operation.update(contract or {"responses": {"default": {"description": "see docs"}}})
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hai Phong IOC HTTP API", "version": "1"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ioc_session"},
            },
        },
    }


async def openapi_json(request: Request, principal: Principal) -> Response:
    return json_response(document(request.app.routes))


def routes() -> list[BaseRoute]:
    return [Route("/openapi.json", guarded("openapi", openapi_json), name="openapi")]
