"""What each route may be called with: its scope, declared once, where the route is.

A route (or a whole router) declares ``dependencies=[requires(Scope.READ_AUDIT_LOG)]``;
the dependency authenticates the request (:func:`~client_audit.api.auth.require_token`:
401 without a valid token, or a console session for a console page) and answers 403,
naming the scope, when the token lacks it. The
declaration is found again by :func:`routes_of`, which the OpenAPI document, ``create_app``
and the tests read from ``app.routes``: a route that declares no scope and is not in
:data:`OPEN_ROUTES` makes a test fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.dependencies.models import Dependant

from client_audit.api.auth import REALM, Authenticated, Caller
from projections.model.access import SCOPE_MEANINGS, Scope

OPEN_ROUTES = frozenset({
    "/healthz", "/metrics", "/openapi.json",
    "/console", "/console/", "/console/sign-in", "/console/sign-out", "/console/static",
})
"""Routes anyone may call (health, metrics, this document; the console's redirects to its
search page, its sign-in and sign-out forms and its static files): every other route, API
and console alike, declares its scope."""


class RequiredScope:
    """The dependency of a route that needs ``scope`` (use :func:`requires`)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(self, caller: Authenticated) -> Caller:
        if self.scope not in caller.scopes:
            held = ", ".join(sorted(caller.scopes)) or "none"
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"this route needs the scope {self.scope.value}; the token "
                       f"{caller.name!r} holds {held}",
                headers={"WWW-Authenticate": f'Bearer realm="{REALM}", '
                                             f'error="insufficient_scope", '
                                             f'scope="{self.scope.value}"'},
            )
        return caller


def requires(scope: Scope) -> Any:
    """``Depends`` on a token holding ``scope``: for a route's or router's dependencies."""
    return Depends(RequiredScope(scope))


@dataclass(frozen=True, slots=True)
class DeclaredRoute:
    """One route of an app as a request reaches it, with the scopes it declares."""

    path: str
    path_format: str
    methods: frozenset[str]
    path_parameters: tuple[str, ...]
    scopes: frozenset[Scope]
    documented: bool
    """Whether the OpenAPI document describes it (an API route)."""


def routes_of(app: FastAPI) -> list[DeclaredRoute]:
    """Every route of ``app``, routers' routes included, with its declared scopes."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Iterable[Any] = app.routes if iterate is None else iterate(app.routes)
    found = []
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        dependant = getattr(route, "dependant", None)
        found.append(DeclaredRoute(
            path=path,
            path_format=str(getattr(route, "path_format", path)),
            methods=frozenset(getattr(route, "methods", None) or ()),
            path_parameters=tuple(getattr(route, "param_convertors", {}) or {}),
            scopes=frozenset(_scopes_in(dependant)) if dependant is not None else frozenset(),
            documented=dependant is not None and bool(getattr(route, "include_in_schema", 1)),
        ))
    return found


def _scopes_in(dependant: Dependant) -> set[Scope]:
    found: set[Scope] = set()
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RequiredScope):
            found.add(dependency.call.scope)
        found |= _scopes_in(dependency)
    return found


def undeclared_routes(app: FastAPI) -> list[str]:
    """The paths of routes that are neither open nor declare a scope."""
    return sorted(
        route.path for route in routes_of(app)
        if route.path not in OPEN_ROUTES and not route.scopes
    )


def check_declared(app: FastAPI) -> None:
    """Refuse an app with a route that is neither open nor declares its scope."""
    missing = undeclared_routes(app)
    if missing:
        raise RuntimeError(
            f"routes without a declared scope: {', '.join(missing)}; add "
            "dependencies=[requires(Scope....)] or list them in OPEN_ROUTES"
        )


def document_scopes(app: FastAPI) -> None:
    """Write each route's scopes into its OpenAPI operation: ``x-required-scopes`` and a
    sentence in its description."""
    generate = app.openapi

    def openapi_with_scopes() -> dict[str, Any]:
        document = generate()
        for route in routes_of(app):
            operations = document.get("paths", {}).get(route.path_format, {})
            for method in route.methods:
                operation = operations.get(method.lower())
                if operation is None or not route.scopes:
                    continue
                scopes = sorted(route.scopes)
                if operation.get("x-required-scopes") == scopes:
                    continue
                operation["x-required-scopes"] = scopes
                needs = "; ".join(f"`{scope.value}` ({SCOPE_MEANINGS[scope]})"
                                  for scope in scopes)
                described = operation.get("description", "")
                operation["description"] = f"{described}\n\nNeeds the token scope {needs}.".strip()
        return document

    app.openapi = openapi_with_scopes  # type: ignore[method-assign]
