"""What function_app.py declares, read with `ast` (no import, no host): triggers, their %SETTING% binding
expressions and their connection names."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from tests.infra.bicep import REPO_ROOT

FUNCTION_APP = REPO_ROOT / "function_app.py"


@dataclass(frozen=True)
class Trigger:
    function: str
    kind: str  # the decorator's name, e.g. service_bus_queue_trigger, timer_trigger
    arguments: dict[str, str] = field(default_factory=dict)  # string keyword arguments

    @property
    def binding_expressions(self) -> set[str]:
        """App settings named by %NAME% in the decorator's arguments."""
        return {name for value in self.arguments.values() for name in re.findall(r"%(\w+)%", value)}


def triggers() -> list[Trigger]:
    found = []
    for node in ast.walk(ast.parse(FUNCTION_APP.read_text())):
        if not isinstance(node, ast.FunctionDef):
            continue
        decorators = [
            (decorator.func.attr, _string_arguments(decorator))
            for decorator in node.decorator_list
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
        ]
        # @app.function_name(name=...) renames the function wherever it stands among the decorators.
        name = next(
            (arguments["name"] for kind, arguments in decorators if kind == "function_name"), node.name
        )
        found += [
            Trigger(name, kind, arguments) for kind, arguments in decorators if kind.endswith("_trigger")
        ]
    return found


def _string_arguments(call: ast.Call) -> dict[str, str]:
    return {
        keyword.arg: keyword.value.value
        for keyword in call.keywords
        if keyword.arg and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)
    }


def timer_functions() -> set[str]:
    return {trigger.function for trigger in triggers() if trigger.kind == "timer_trigger"}
