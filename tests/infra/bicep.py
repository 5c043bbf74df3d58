"""Reading infra/ for the infra tests: pycep-parser's JSON of each template plus a few small helpers.

pycep-parser turns a .bicep file into JSON: literals stay literals, and an expression becomes a nested
{"operator"/"function": ...} object. `render` turns the simple expressions the tests compare (property
access, indexing) back into Bicep text, e.g. "identity.outputs.clientId".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MAIN = INFRA / "main.bicep"
ROLES_FILE = INFRA / "modules" / "built-in-roles.json"

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parse(path: Path) -> dict[str, Any]:
    return cast(dict[str, Any], BicepParser().parse(file_path=path))


def module(name: str) -> dict[str, Any]:
    return parse(INFRA / "modules" / f"{name}.bicep")


def main() -> dict[str, Any]:
    return parse(MAIN)


def body(declaration: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's properties, without the `for` loop or `if` condition around them."""
    config = cast(dict[str, Any], declaration["config"])
    while "config" in config and ("loop_type" in config or "condition" in config):
        config = config["config"]
    return config


def render(expression: Any) -> str:
    """Bicep text of a literal, a symbol or a property/index access; other expressions render as their type."""
    if isinstance(expression, str):
        return expression
    if isinstance(expression, dict) and "operator" in expression:
        operator = expression["operator"]
        operands = operator["operands"]
        if operator["type"] == "property_accessor":
            return f"{render(operands['operand_1'])}.{render(operands['operand_2'])}"
        if operator["type"] == "index_accessor":
            return f"{render(operands['operand_1'])}[{render(operands['operand_2'])}]"
        return f"<{operator['type']}>"
    if isinstance(expression, dict) and "function" in expression:
        return f"<{expression['function']['type']}()>"
    return json.dumps(expression)


def has_default(parameter: dict[str, Any]) -> bool:
    return parameter.get("default") is not None


def literal(name: str, template: dict[str, Any]) -> Any:
    """The value of a variable (or a parameter's default) that is written out as a literal."""
    if name in template["variables"]:
        return template["variables"][name]["value"]
    return template["parameters"][name]["default"]


@dataclass(frozen=True)
class Resource:
    file: Path
    symbol: str
    type: str
    api_version: str
    body: dict[str, Any]


def resources() -> list[Resource]:
    found = []
    for path in bicep_files():
        for symbol, declaration in parse(path).get("resources", {}).items():
            found.append(
                Resource(path, symbol, declaration["type"], declaration["api_version"], body(declaration))
            )
    return found


def resources_of_type(resource_type: str) -> list[Resource]:
    return [
        item for item in resources() if item.type.lower() == resource_type.lower() and not _existing(item)
    ]


def _existing(item: Resource) -> bool:
    return bool(parse(item.file)["resources"][item.symbol]["existing"])


def built_in_roles() -> dict[str, str]:
    """Role key (as used in the templates: roles.<key>) -> role definition GUID."""
    return cast(dict[str, str], json.loads(ROLES_FILE.read_text()))


def role_key(assignment: Resource) -> str:
    """The roles.<key> a role assignment grants."""
    text = render(
        assignment.body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
    )
    return text.removeprefix("roles.")


def code(path: Path) -> str:
    """A template without its comment lines (comments may name what the code must not contain)."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))


def comment_above(path: Path, symbol: str) -> str:
    """The // comment lines right above a resource declaration, joined."""
    lines = path.read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if re.match(rf"resource {symbol} ", line))
    comments: list[str] = []
    for line in reversed(lines[:start]):
        if not line.startswith("//"):
            break
        comments.insert(0, line.removeprefix("//").strip())
    return " ".join(comments)


# --- the function app's settings ------------------------------------------------------------------------
@dataclass(frozen=True)
class AppSetting:
    name: str
    value: str  # rendered: a literal, or Bicep text such as "identity.outputs.clientId"
    source: str  # where it is declared, for messages


def app_settings() -> dict[str, AppSetting]:
    """Every app setting the templates give the function app: the host's (function-app.bicep, its parameters
    resolved to what main.bicep passes) and the app's own (the *Settings variables of main.bicep, with one
    setting per Service Bus entity that names one)."""
    found: dict[str, AppSetting] = {}
    arguments = _module_arguments("functionApp")
    for variable, declaration in module("function-app")["variables"].items():
        for name, value in _pairs(declaration["value"]):
            resolved = re.sub(
                r"\$\{(\w+)\}", lambda match: "${" + arguments.get(match[1], match[1]) + "}", value
            )
            found[name] = AppSetting(
                name, arguments.get(resolved, resolved), f"function-app.bicep {variable}"
            )
    for variable, declaration in main()["variables"].items():
        value = declaration["value"]
        if isinstance(value, dict) and "loop_type" in value and _pairs([value["config"]]):
            for entity in queue_setting_entries():
                found[entity["setting"]] = AppSetting(
                    entity["setting"], entity["name"], f"main.bicep {variable}"
                )
            continue
        for name, rendered in _pairs(value):
            found[name] = AppSetting(name, rendered, f"main.bicep {variable}")
    return found


def _pairs(value: Any) -> list[tuple[str, str]]:
    """The {name, value} objects of an app-settings array, rendered."""
    if not isinstance(value, list):
        return []
    return [
        (render(item["name"]), render(item["value"]))
        for item in value
        if isinstance(item, dict) and set(item) == {"name", "value"}
    ]


def queue_setting_entries() -> list[dict[str, Any]]:
    """The Service Bus entities that carry an app setting (main.bicep's loop makes one setting per entry)."""
    return [entity for entity in literal("serviceBusEntities", main()) if "setting" in entity]


def _module_arguments(symbol: str) -> dict[str, str]:
    """How main.bicep fills a module's parameters (parameter name -> rendered argument)."""
    params = body(main()["modules"][symbol])["params"]
    return {name: render(value) for name, value in params.items()}


def function_app_argument(parameter: str) -> str:
    return _module_arguments("functionApp")[parameter]
