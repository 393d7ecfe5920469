"""Which methods a path takes, told the same way everywhere: OPTIONS on a path the app serves is
204 with `Allow`, and a method the path does not take is 405 (problem+json) with the same `Allow`.

Starlette answers 405 itself, but with the methods of the first route whose path matched: a
path served by routes of two routers (GET in one, PATCH in another) advertised half of its
methods, and OPTIONS, which no route declares, was a 405 too.
"""

from fastapi.routing import RouteContext, iter_route_contexts
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from services.runtime.problems import problem_response

# Distinct (method, path) answers remembered; paths carry ids, so the memory starts over
# when full rather than growing with every customer asked for.
ANSWERS_KEPT = 4096

Answer = frozenset[str] | None


class _RouteContexts:
    """The router's route contexts, built once per version of its routes: iterating them
    anew wrapped every route of every included router per request (~6% of a list page's
    CPU in the customers service, py-spy). The answer for a method and path is remembered
    too: matching the request against every route (72 in the gateway) cost ~8% of the
    gateway's CPU per list page, and a path's methods change only with the routes."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._contexts: list[RouteContext] = []
        self._answers: dict[tuple[str, str, str], Answer] = {}

    def allowed(self, router: Router, scope: Scope) -> Answer:
        """`allowed_methods` of this request, remembered per version of the routes."""
        # FastAPI bumps this when a route is added anywhere below the router; without it
        # (a plain Starlette router) nothing is remembered.
        routes_version = getattr(router, "_get_routes_version", None)
        if routes_version is None:
            return _frozen(allowed_methods(router, scope))
        version = routes_version()
        if version != self._version:
            self._contexts = list(iter_route_contexts(router.routes))
            self._answers = {}
            self._version = version
        key = (scope["method"], scope.get("root_path", ""), scope["path"])
        if key not in self._answers:
            if len(self._answers) >= ANSWERS_KEPT:
                self._answers = {}
            self._answers[key] = _frozen(allowed_methods(router, scope, self._contexts))
        return self._answers[key]


def _frozen(methods: set[str] | None) -> Answer:
    return None if methods is None else frozenset(methods)


def allowed_methods(
    router: Router, scope: Scope, contexts: list[RouteContext] | None = None
) -> set[str] | None:
    """The methods the routes of `router` take on this request's path; None when the request's
    own method is one of them (or the path is not a route's, so routing answers).

    A path some route names literally (`/customers/export.csv`) is that route's resource: a
    route with a parameter in its place (`/customers/{customer_id}`) does not lend it methods.
    """
    literal: set[str] = set()
    templated: set[str] = set()
    names_it = False
    # FastAPI 0.163 keeps included routers whole (`_IncludedRouter`); their route contexts are
    # the routes as served, each with its full path and its methods.
    for route in contexts if contexts is not None else iter_route_contexts(router.routes):
        match, _ = route.matches(dict(scope))
        if match is Match.NONE:
            continue
        methods = getattr(route, "methods", None)
        if methods is None:  # a mount: it takes any method
            if match is Match.FULL:
                return None
            continue
        if "{" in (route.path or ""):
            templated.update(methods)
        else:
            names_it = True
            literal.update(methods)
    allowed = literal if names_it else templated
    if not allowed or scope["method"] in allowed:
        return None
    return allowed


class AllowedMethods:
    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router
        self._contexts = _RouteContexts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        methods = self._contexts.allowed(self.router, scope)
        if methods is None:
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(methods | {"OPTIONS"}))
        response: Response
        if scope["method"] == "OPTIONS":
            response = Response(status_code=204, headers={"Allow": allow})
        else:
            response = problem_response(
                405,
                "Method not allowed",
                f"{scope['method']} is not one of {allow}",
                instance=HTTPConnection(scope).url.path,
                headers={"Allow": allow},
            )
        await response(scope, receive, send)
