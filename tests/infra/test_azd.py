"""azure.yaml deploys the function app from infra/ and runs the post-provision steps in order; the workflow
signs in with OpenID Connect and runs the same tests before it deploys."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import yaml

from tests.infra.bicep import REPO_ROOT

AZURE_YAML = REPO_ROOT / "azure.yaml"
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "deploy.yml"


def azure_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(AZURE_YAML.read_text())
    return loaded


def postprovision_modules(platform: str) -> list[str]:
    """The `python -m <module> <args>` each postprovision hook runs, in order."""
    modules = []
    for hook in azure_yaml()["hooks"]["postprovision"]:
        match = re.search(r"python -m ([\w.]+(?: [\w-]+)?)", hook[platform]["run"])
        assert match, hook
        modules.append(match.group(1))
    return modules


def test_azd_deploys_the_project_as_a_python_function_app_from_the_bicep_in_infra() -> None:
    config = azure_yaml()
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert config["services"] == {"app": {"project": ".", "language": "python", "host": "function"}}
    assert (REPO_ROOT / "infra" / "main.bicep").is_file()


def test_postprovision_stores_secrets_then_provisions_dataverse_then_amazon_on_every_platform() -> None:
    expected = ["infra.hooks.store_secrets", "shared.provision dataverse", "shared.provision amazon"]
    assert postprovision_modules("posix") == expected
    assert postprovision_modules("windows") == expected
    assert all(hook["posix"]["interactive"] for hook in azure_yaml()["hooks"]["postprovision"]), (
        "hooks may prompt"
    )


def test_the_hooks_run_modules_of_this_repository() -> None:
    assert importlib.util.find_spec("infra.hooks.store_secrets") is not None
    provision = (
        importlib.util.find_spec("shared.provision") is not None
        or not (REPO_ROOT / "shared" / "provision").exists()
    )
    assert provision, "shared/provision exists but cannot be imported as shared.provision"


def test_the_preprovision_hook_creates_the_venv_the_postprovision_hooks_use() -> None:
    preprovision = azure_yaml()["hooks"]["preprovision"]
    assert "requirements.txt" in preprovision["posix"]["run"]
    assert ".venv/bin/python" in preprovision["posix"]["run"]
    assert ".venv/Scripts/python" in preprovision["windows"]["run"]


def test_the_workflow_uses_oidc_builds_bicep_tests_previews_and_deploys() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"]["id-token"] == "write"
    steps = workflow["jobs"]["deploy"]["steps"]
    login = next(step for step in steps if str(step.get("uses", "")).startswith("azure/login"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}, "no client secret"
    commands = [step.get("run", "") for step in steps]
    order = [
        "az bicep build",
        "./dev test",
        "azd provision --preview",
        "azd provision --no-prompt",
        "azd deploy",
    ]
    positions = [next(i for i, command in enumerate(commands) if phrase in command) for phrase in order]
    assert positions == sorted(positions), "build, test, preview, provision, deploy"
    assert "--federated-credential-provider github" in " ".join(commands)


def test_the_workflow_passes_every_prompted_parameter_and_every_needed_secret() -> None:
    from infra.hooks.store_secrets import secret_settings

    environment = yaml.safe_load(WORKFLOW.read_text())["env"]
    parameters = (REPO_ROOT / "infra" / "main.parameters.json").read_text()
    prompted = set(re.findall(r"\$\{([A-Z_]+)\}", parameters)) - {"AZURE_PRINCIPAL_ID"}
    assert prompted <= set(environment), sorted(prompted - set(environment))
    needed_secrets = {item.setting for item in secret_settings() if item.needed}
    assert needed_secrets <= set(environment)
    for name in needed_secrets:
        assert environment[name] == f"${{{{ secrets.{name} }}}}", f"{name} must come from a repository secret"


def test_the_readme_documents_every_value_azd_asks_for_and_every_key_vault_secret() -> None:
    from infra.hooks.store_secrets import secret_settings

    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploy to Azure") :]
    parameters = (REPO_ROOT / "infra" / "main.parameters.json").read_text()
    values = set(re.findall(r"\$\{([A-Z_]+)", parameters)) - {
        "AZURE_ENV_NAME",
        "AZURE_LOCATION",
        "AZURE_PRINCIPAL_ID",
    }
    undocumented = {value for value in values if f"| `{value}` |" not in section}
    assert undocumented == set()
    assert {item.secret for item in secret_settings() if f"`{item.secret}`" not in section} == set()
