"""Dataverse's error responses: `{"error": {"code": "0x...", "message": "..."}}` with the real codes.

Sources (learn.microsoft.com unless noted; the hex codes and names are from the Dataverse web service error
code list, power-apps/developer/data-platform/reference/web-service-error-codes):
- 0x80040217 ObjectDoesNotExist, 0x80040237 DuplicateRecord, 0x80060882 ConcurrencyVersionMismatch and their
  messages: .../webapi/perform-conditional-operations-using-web-api and the Web API conditional operations
  sample; "A record with the specified key values does not exist in <table> entity" is the alternate-key form.
- 0x8006088a "Resource not found for the segment", "Could not find a property named ...", 0x80048d19
  ODataClientPayloadError ("Error identified in Payload provided by the user ..."): troubleshoot/power-platform/
  dataverse/dev/web-api-client-errors. The article shows code 0x0 for the unknown-$select case; live
  environments answer 0x80060888, which is what clients match on, so that is what we send.
- "The key in the request URI is not valid for resource ..." and the unsupported alternate-key characters
  `/ < > * % & : \\ ? +`: .../data-platform/use-alternate-key-reference-record (no code documented: 0x80060888,
  the code Dataverse uses for URI parsing errors).
- 0x80044331 length validation: .../webapi/execute-batch-operations-using-web-api (Handling errors).
- 0x80072322 service protection: .../data-platform/api-limits.
- 0x80048408 InvalidStateCodeStatusCode, 0x8004022e CannotUpdateBecauseItIsReadOnly, 0x80043b09 ParentReadOnly,
  0x80043b0d MissingUomId, 0x80043b11 MissingProductId, 0x80043afb CannotSpecifyBothProductAndProductDesc,
  0x80043afa CannotSpecifyBothUomAndProductDesc, 0x80040203 InvalidArgument, 0x80040216 Unspecified: the error
  code list.
- "This message can not be used to set the state of SalesOrder to Canceled ... use the CancelSalesOrderRequest":
  the platform's wording quoted on community.dynamics.com (no dedicated code documented: 0x80040203).
- "Content-ID Reference: '$1' does not exist in the batch context.": execute-batch-operations-using-web-api.

Messages never repeat a request body: they name columns, tables and keys, never the values a buyer typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HELP_LINK = "https://go.microsoft.com/fwlink/?linkid=2195293"


@dataclass
class DataverseError(Exception):
    status: int
    code: str
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def _payload(entity_set: str, inner: str) -> DataverseError:
    return DataverseError(
        400,
        "0x80048d19",
        f"Error identified in Payload provided by the user for Entity :'{entity_set}', For more information on "
        f"this error please follow this help link {HELP_LINK}  ---->  InnerException : "
        f"Microsoft.OData.ODataException: {inner}",
    )


def undeclared_property(entity_set: str, logical_name: str, name: str) -> DataverseError:
    return _payload(
        entity_set,
        f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{logical_name}'. Make sure to only "
        "use property names that are defined by the type or mark the type as open type.",
    )


def undeclared_navigation(entity_set: str, name: str) -> DataverseError:
    return _payload(
        entity_set,
        f"An undeclared property '{name}' which only has property annotations in the payload but no property "
        "value was found in the payload. In OData, only declared navigation properties and declared named "
        "streams can be represented as properties without values.",
    )


def wrong_type(entity_set: str, name: str, edm_type: str) -> DataverseError:
    # Dataverse quotes the literal here; we don't, because it may be a buyer's personal data.
    return _payload(
        entity_set, f"Cannot convert the value of property '{name}' to the expected type '{edm_type}'."
    )


def bad_reference(entity_set: str, name: str, detail: str) -> DataverseError:
    return _payload(entity_set, f"The value of '{name}@odata.bind' is not a valid entity reference: {detail}")


def unreadable_json(entity_set: str) -> DataverseError:
    return _payload(entity_set, "The request body is not a valid JSON object.")


def unreadable_batch() -> DataverseError:
    # What Dataverse answers when $batch framing doesn't use CRLF (web-api-client-errors, "Stream was not readable").
    return DataverseError(
        400,
        "0x80048d19",
        "Error identified in Payload provided by the user for Entity :'', For more information on this error "
        f"please follow this help link {HELP_LINK}  ---->  InnerException : System.ArgumentException: Stream was "
        "not readable.",
    )


def not_found_by_id(logical_name: str, record_id: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"{logical_name} With Id = {record_id} Does Not Exist")


def not_found_by_key(logical_name: str) -> DataverseError:
    return DataverseError(
        404, "0x80040217", f"A record with the specified key values does not exist in {logical_name} entity"
    )


def duplicate_record() -> DataverseError:
    return DataverseError(412, "0x80040237", "A record with matching key values already exists.")


def version_mismatch() -> DataverseError:
    return DataverseError(
        412,
        "0x80060882",
        "The version of the existing record doesn't match the RowVersion property provided.",
    )


def segment_not_found(segment: str) -> DataverseError:
    return DataverseError(404, "0x8006088a", f"Resource not found for the segment '{segment}'.")


def method_not_allowed(method: str, segment: str) -> DataverseError:
    return DataverseError(405, "0x80060888", f"The HTTP method '{method}' is not supported on '{segment}'.")


def unknown_query_property(logical_name: str, name: str) -> DataverseError:
    return DataverseError(
        400,
        "0x80060888",
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{logical_name}'.",
    )


def query_syntax(message: str) -> DataverseError:
    return DataverseError(400, "0x80060888", message)


def not_supported(feature: str) -> DataverseError:
    return DataverseError(501, "0x80060888", f"{feature} is not supported by the Dataverse emulator.")


def invalid_key(logical_name: str) -> DataverseError:
    entity_type = f"Microsoft.Dynamics.CRM.{logical_name}"
    return DataverseError(
        400,
        "0x80060888",
        f"The key in the request URI is not valid for resource '{entity_type}'. Ensure that the names and number "
        f"of key properties match the declared or alternate key properties for the resource '{entity_type}'.",
    )


def unaddressable_key(column: str, character: str) -> DataverseError:
    return DataverseError(
        400,
        "0x80060888",
        "Alternate key values with the following characters /,<,>,*,%,&,:,\\,?,+ aren't currently supported: "
        f"the value of '{column}' contains '{character}'. Look the record up with $filter instead.",
    )


def too_long(logical_name: str, column: str, max_length: int) -> DataverseError:
    return DataverseError(
        400,
        "0x80044331",
        f"A validation error occurred.  The length of the '{column}' attribute of the '{logical_name}' entity "
        f"exceeded the maximum allowed length of '{max_length}'.",
    )


def invalid_argument(message: str) -> DataverseError:
    return DataverseError(400, "0x80040203", message)


def not_valid_for(logical_name: str, column: str, operation: str) -> DataverseError:
    return invalid_argument(
        f"The '{column}' attribute of the '{logical_name}' entity is not valid for {operation}."
    )


def invalid_state_status() -> DataverseError:
    return DataverseError(
        400,
        "0x80048408",
        "State code is invalid or state code is valid but status code is invalid for a specified state code.",
    )


def state_needs_message(logical_name: str, state_label: str, message: str) -> DataverseError:
    return invalid_argument(
        f"This message can not be used to set the state of {logical_name} to {state_label}. In order to set state "
        f"of {logical_name} to {state_label}, use the {message} message instead."
    )


def read_only_record() -> DataverseError:
    return DataverseError(400, "0x8004022e", "The object cannot be updated because it is read-only.")


def parent_read_only() -> DataverseError:
    return DataverseError(400, "0x80043b09", "The parent is read only and cannot be edited.")


def missing_uom() -> DataverseError:
    return DataverseError(400, "0x80043b0d", "The unit id is missing.")


def missing_product() -> DataverseError:
    return DataverseError(400, "0x80043b11", "The product id is missing.")


def product_and_description() -> DataverseError:
    return DataverseError(
        400, "0x80043afb", "You cannot set both 'productid' and 'productdescription' for the same record."
    )


def uom_and_description() -> DataverseError:
    return DataverseError(
        400, "0x80043afa", "You cannot set both 'uomid' and 'productdescription' for the same record."
    )


def missing_content_id(reference: str) -> DataverseError:
    return DataverseError(
        400, "0x80060888", f"Content-ID Reference: '{reference}' does not exist in the batch context."
    )


def too_many_batch_operations(limit: int) -> DataverseError:
    return DataverseError(
        400,
        "0x80060888",
        f"The current batch message contains too many parts. Only batch messages with a maximum number of "
        f"'{limit}' query operations, including changeset operations, are allowed.",
    )


def get_in_change_set() -> DataverseError:
    return DataverseError(400, "0x80060888", "GET requests are not allowed inside a change set.")


THROTTLED_MESSAGE = "Number of requests exceeded the limit of 6000 over time window of 300 seconds."


def throttled() -> DataverseError:
    return DataverseError(429, "0x80072322", THROTTLED_MESSAGE)


def unexpected(status: int) -> DataverseError:
    return DataverseError(status, "0x80040216", "An unexpected error occurred.")


# --- callers -------------------------------------------------------------------------------------------------
def not_a_member() -> DataverseError:
    # A valid token whose application has no application user in the org (0x80072560 NotMemberOfOrganization).
    return DataverseError(403, "0x80072560", "The user is not a member of the organization.")


# --- metadata (EntityDefinitions, RelationshipDefinitions) -----------------------------------------------
# 0x80047013 DuplicateAttributeSchemaName and 0x80048403 EntityAlreadyExists are the codes clients match on
# (the documented image-column sample tests 0x80047013); the other metadata refusals are InvalidArgument.
def unknown_entity(logical_name: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"Could not find entity with name '{logical_name}'.")


def unknown_attribute(entity: str, name: str) -> DataverseError:
    return DataverseError(
        404, "0x80040217", f"Could not find attribute with name '{name}' on entity '{entity}'."
    )


def unknown_key(entity: str, name: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"Could not find entity key '{name}' on entity '{entity}'.")


def duplicate_attribute(entity: str, schema_name: str) -> DataverseError:
    return DataverseError(
        400,
        "0x80047013",
        f"An attribute with the schema name '{schema_name}' already exists on entity '{entity}'.",
    )


def duplicate_entity(schema_name: str) -> DataverseError:
    return DataverseError(
        400, "0x80048403", f"An entity with the schema name '{schema_name}' already exists."
    )


def unresolved_type(segment: str, type_name: str) -> DataverseError:
    # The OData reader's words for an @odata.type the model does not know.
    return _payload(
        segment,
        f"A type named '{type_name}' could not be resolved by the model. When a model is available, each type "
        "name must resolve to a valid type.",
    )


def invalid_definition(message: str) -> DataverseError:
    return invalid_argument(message)


def not_supported_message(message: str, logical_name: str) -> DataverseError:
    # Platform-managed tables (sdkmessage, sdkmessagefilter, solutioncomponent) refuse data writes.
    return invalid_argument(f"The '{message}' method does not support entities of type '{logical_name}'.")


def value_out_of_range(logical_name: str, column: str, low: object, high: object) -> DataverseError:
    return DataverseError(
        400,
        "0x80044331",
        f"A validation error occurred. The value of '{column}' on record of type '{logical_name}' is outside the "
        f"valid range. Accepted range: {low} to {high}.",
    )


def invalid_option(logical_name: str, column: str) -> DataverseError:
    return DataverseError(
        400,
        "0x80044331",
        f"A validation error occurred. The value of '{column}' on record of type '{logical_name}' is not one of "
        "the column's options.",
    )
