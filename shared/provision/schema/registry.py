"""Every feature module of this package, found by looking (a new feature is one new file), merged into one
Declaration. A name declared twice must be declared the same way: two features cannot disagree on a column's
type or a subscription's filter without someone deciding which one wins.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import TypeVar

from shared.errors import ConfigurationError
from shared.model.crm_schema import (
    AlternateKey,
    Column,
    CustomTable,
    Feature,
    Lookup,
    ServiceEndpointStep,
    Subscription,
)
from shared.provision.schema.context import SchemaContext

_NOT_FEATURES = frozenset({"context", "registry"})
T = TypeVar("T")


@dataclass(frozen=True)
class Declaration:
    """Every feature's needs, merged; each name once."""

    features: tuple[str, ...]
    tables: tuple[CustomTable, ...]
    columns: tuple[Column, ...]
    keys: tuple[AlternateKey, ...]
    steps: tuple[ServiceEndpointStep, ...]
    subscriptions: tuple[Subscription, ...]
    lookups: tuple[Lookup, ...] = ()


def feature_modules() -> list[ModuleType]:
    """The feature modules, in name order (every module of the package with a `declare`)."""
    package = importlib.import_module("shared.provision.schema")
    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.name in _NOT_FEATURES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if not callable(getattr(module, "declare", None)):
            raise ConfigurationError(
                f"{module.__name__} declares nothing: it needs declare(context) -> Feature"
            )
        modules.append(module)
    return modules


def declare_all(context: SchemaContext, features: Iterable[Feature] | None = None) -> Declaration:
    """The merged declaration of every feature module (or of `features`, for tests)."""
    chosen = (
        list(features) if features is not None else [module.declare(context) for module in feature_modules()]
    )
    return Declaration(
        features=tuple(feature.name for feature in chosen),
        tables=_merged((t for f in chosen for t in f.tables), lambda t: t.name, "table"),
        columns=_merged((c for f in chosen for c in f.columns), lambda c: (c.table, c.name), "column"),
        keys=_merged((k for f in chosen for k in f.keys), lambda k: (k.table, k.name), "alternate key"),
        steps=_merged((s for f in chosen for s in f.steps), lambda s: s.name, "step"),
        subscriptions=_merged(
            (s for f in chosen for s in f.subscriptions), lambda s: s.notification_type, "subscription"
        ),
        lookups=_merged((lk for f in chosen for lk in f.lookups), lambda lk: (lk.table, lk.name), "lookup"),
    )


def _merged(items: Iterable[T], identity: Callable[[T], Hashable], kind: str) -> tuple[T, ...]:
    seen: dict[Hashable, T] = {}
    for item in items:
        name = identity(item)
        if name in seen and seen[name] != item:
            raise ConfigurationError(f"the {kind} {name} is declared twice, differently")
        seen.setdefault(name, item)
    return tuple(seen.values())
