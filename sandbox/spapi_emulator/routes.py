"""The route table: (HTTP method, model path template) -> operation name, access rule and handler.

Templates are written exactly as in Amazon's models (``/notifications/v1/destinations/{destinationId}``) so a
contract test can check every route against the model's paths and operationIds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse

Handler = Callable[[EmulatorRequest, Mapping[str, str]], EmulatorResponse]


class Access(Enum):
    NONE = "none"  # presigned document URLs, LWA itself
    SELLER = "seller"  # an access token from the seller's refresh token
    GRANTLESS = "grantless"  # a client_credentials token with the notifications scope
    EITHER = "either"  # documented as grantless, but clients also send seller tokens (see notifications)


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    template: str
    access: Access
    handler: Handler
    query: Collection[str] | None = ()  # the model's query parameters; None: not checked (S3, LWA)
    amazon_headers: bool = True  # False for the S3-like document URLs
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.query is not None:
            object.__setattr__(self, "query", frozenset(self.query))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: Mapping[str, str]


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(routes)
        names = [route.operation for route in self.routes]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"operation names must be unique: {sorted(duplicates)}")

    def find(self, method: str, path: str) -> RouteMatch | None:
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is not None:
                return RouteMatch(route, parameters)
        return None

    def operations(self) -> list[str]:
        return [route.operation for route in self.routes]
