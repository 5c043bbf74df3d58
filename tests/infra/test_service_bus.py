"""The Service Bus queues the templates create are the ones the README documents and the triggers read, and the
timer alert watches every timer function."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.infra import bicep, functions

README = bicep.REPO_ROOT / "README.md"
TABLE = re.compile(r"<!-- queues:start -->\n(.*?)<!-- queues:end -->", re.DOTALL)
TOPICS = re.compile(r"<!-- topics:start -->\n(.*?)<!-- topics:end -->", re.DOTALL)


def iso_duration(text: str) -> timedelta:
    """PT5M, PT1H30M, PT45S (the subset Service Bus uses)."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", text)
    assert match, f"not an ISO 8601 duration: {text}"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def spoken_duration(text: str) -> timedelta:
    """'5 minutes', '30 seconds', '1 hour'."""
    number, unit = text.split()
    return timedelta(**{unit if unit.endswith("s") else unit + "s": int(number)})


def readme_queues() -> dict[str, dict[str, object]]:
    """The README's queue table, in the templates' property names."""
    match = TABLE.search(README.read_text())
    assert match, "README has no <!-- queues:start --> table"
    rows = [line for line in match.group(1).splitlines() if line.startswith("|")][2:]
    queues = {}
    for row in rows:
        name, setting, deliveries, lock, window, expiry = (
            cell.strip().strip("`") for cell in row.strip("|").split("|")
        )
        queues[name] = {
            "setting": setting,
            "maxDeliveryCount": int(deliveries),
            "lockDuration": spoken_duration(lock),
            "requiresDuplicateDetection": window != "off",
            "duplicateDetectionHistoryTimeWindow": spoken_duration(window) if window != "off" else None,
            "deadLetteringOnMessageExpiration": {"yes": True, "no": False}[expiry],
        }
    return queues


def template_queues() -> dict[str, dict[str, object]]:
    """Each queue of main.bicep's list with servicebus.bicep's defaults and its own overrides applied."""
    defaults = bicep.literal("queueDefaults", bicep.module("servicebus"))
    queues = {}
    for entity in bicep.literal("serviceBusEntities", bicep.main()):
        if entity["kind"] != "queue":
            continue
        properties = {**defaults, **entity.get("properties", {})}
        window = str(properties.get("duplicateDetectionHistoryTimeWindow"))
        queues[entity["name"]] = {
            "setting": entity.get("setting", ""),
            "maxDeliveryCount": properties["maxDeliveryCount"],
            "lockDuration": iso_duration(properties["lockDuration"]),
            "requiresDuplicateDetection": properties["requiresDuplicateDetection"],
            "duplicateDetectionHistoryTimeWindow": iso_duration(window)
            if properties["requiresDuplicateDetection"]
            else None,
            "deadLetteringOnMessageExpiration": properties["deadLetteringOnMessageExpiration"],
        }
    return queues


def test_the_readme_table_parses_into_the_documented_delivery_settings() -> None:
    assert readme_queues()["amazon-notifications"] == {
        "setting": "AMAZON_NOTIFICATIONS_QUEUE",
        "maxDeliveryCount": 10,
        "lockDuration": timedelta(minutes=5),
        "requiresDuplicateDetection": True,
        "duplicateDetectionHistoryTimeWindow": timedelta(minutes=10),
        "deadLetteringOnMessageExpiration": True,
    }


def test_the_templates_create_exactly_the_queues_the_readme_documents_with_the_same_settings() -> None:
    assert template_queues() == readme_queues()


def test_each_queue_is_created_from_the_one_list_with_the_defaults_merged_in() -> None:
    (queue,) = bicep.resources_of_type("Microsoft.ServiceBus/namespaces/queues")
    loop = bicep.parse(queue.file)["resources"][queue.symbol]["config"]["loop_type"]["detail"]
    assert loop["array_name"] == "queues"
    merged = queue.body["properties"]["function"]
    assert merged["type"] == "union"
    assert merged["parameters"]["arg_1"] == "queueDefaults"
    assert bicep.body(bicep.main()["modules"]["serviceBus"])["params"]["entities"] == "serviceBusEntities"


@pytest.mark.parametrize(
    "trigger", [t for t in functions.triggers() if t.kind.startswith("service_bus")], ids=lambda t: t.function
)
def test_each_service_bus_trigger_reads_a_queue_the_templates_create(trigger: functions.Trigger) -> None:
    settings = bicep.app_settings()
    queue_names = set(template_queues())
    for expression in trigger.binding_expressions:
        assert expression in settings, f"{trigger.function} reads %{expression}% but no app setting gives it"
        if expression in {entity["setting"] for entity in bicep.queue_setting_entries()}:
            assert settings[expression].value in queue_names


def test_the_timer_alert_watches_every_timer_function() -> None:
    watched = set(bicep.literal("timerFunctionNames", bicep.main()))
    assert functions.timer_functions() <= watched, (
        f"add {sorted(functions.timer_functions() - watched)} to timerFunctionNames"
    )
    assert watched <= functions.timer_functions(), "timerFunctionNames names a function that does not exist"
    alerts = bicep.module("alerts")
    assert "${string(timerFunctionNames)}" in bicep.literal("timerMissingQuery", alerts)


def test_dead_letters_alert_on_every_queue_and_the_alerts_reach_the_action_group() -> None:
    (rule,) = bicep.resources_of_type("Microsoft.Insights/metricAlerts")
    (criterion,) = rule.body["properties"]["criteria"]["allOf"]
    assert criterion["metricName"] == "DeadletteredMessages"
    assert criterion["operator"] == "GreaterThan"
    assert criterion["threshold"] == 0
    assert criterion["dimensions"] == [{"name": "EntityName", "operator": "Include", "values": ["*"]}]
    assert [bicep.render(action["actionGroupId"]) for action in rule.body["properties"]["actions"]] == [
        "actionGroup.id"
    ]
    query_rules = bicep.resources_of_type("Microsoft.Insights/scheduledQueryRules")
    assert len(query_rules) == 2, "failure rate and timer missing"
    for query_rule in query_rules:
        assert [
            bicep.render(group) for group in query_rule.body["properties"]["actions"]["actionGroups"]
        ] == ["actionGroup.id"]
    (group,) = bicep.resources_of_type("Microsoft.Insights/actionGroups")
    assert group.body["properties"]["emailReceivers"][0]["emailAddress"] == "alertEmail"


def readme_subscriptions() -> dict[tuple[str, str], str | None]:
    """(topic, subscription) -> the `source` its filter takes (None: every message), from the README's table."""
    match = TOPICS.search(README.read_text())
    assert match, "README has no <!-- topics:start --> table"
    rows = [line for line in match.group(1).splitlines() if line.startswith("|")][2:]
    found: dict[tuple[str, str], str | None] = {}
    for row in rows:
        topic, subscription, source, _ = (cell.strip().strip("`") for cell in row.strip("|").split("|"))
        found[(topic, subscription)] = None if source == "every message" else source.removeprefix("source = ")
    return found


def template_subscriptions() -> dict[tuple[str, str], str | None]:
    return {
        (entity["name"], subscription["name"]): subscription.get("source")
        for entity in bicep.literal("serviceBusEntities", bicep.main())
        if entity["kind"] == "topic"
        for subscription in entity["subscriptions"]
    }


def test_the_templates_create_exactly_the_topic_subscriptions_the_readme_documents() -> None:
    assert template_subscriptions() == readme_subscriptions()


def test_the_sandbox_stand_in_declares_the_subscriptions_the_templates_create() -> None:
    from sandbox.crm_pipeline import INVENTORY_TOPIC, SUBSCRIPTIONS

    declared = {(INVENTORY_TOPIC, name): filters.get("source") for name, filters in SUBSCRIPTIONS.items()}
    assert declared == template_subscriptions()
