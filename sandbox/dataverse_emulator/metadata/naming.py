"""Names of custom definitions: schema names, their customization prefix, and entity set names.

- A custom table's or column's SchemaName starts with a customization prefix and an underscore
  ("new_BankAccount"); its LogicalName is the SchemaName in lower case.
- EntitySetName defaults to LogicalCollectionName, which for a custom table is the English plural of the
  logical name (new_bankaccount -> new_bankaccounts, new_category -> new_categories, new_box -> new_boxes);
  a creator may give EntitySetName explicitly (EntityMetadata.EntitySetName: "For custom entities, you can
  change the name of the entity set used. By default it is the same as the LogicalCollectionName.").
"""

from __future__ import annotations

import re

from .. import errors

# A prefix is 2-8 letters or digits, starting with a letter; "mscrm" belongs to Microsoft.
_SCHEMA_NAME = re.compile(r"^(?P<prefix>[A-Za-z][A-Za-z0-9]{1,7})_[A-Za-z0-9_]+$")
_RESERVED_PREFIXES = frozenset({"mscrm"})
_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")


def custom_logical_name(schema_name: object, kind: str) -> str:
    """The logical name of a custom definition's SchemaName, or Dataverse's refusal of the name."""
    if not isinstance(schema_name, str) or not schema_name:
        raise errors.invalid_definition(f"The {kind} definition needs a SchemaName.")
    match = _SCHEMA_NAME.match(schema_name)
    if match is None or match["prefix"].lower() in _RESERVED_PREFIXES:
        raise errors.invalid_definition(
            f"The schema name '{schema_name}' of the {kind} must start with a valid customization prefix "
            "followed by an underscore, and contain only letters, digits and underscores."
        )
    return schema_name.lower()


def plural(name: str) -> str:
    """English plural of a logical name, as Dataverse forms a custom table's collection name."""
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(_SIBILANT_ENDINGS):
        return name + "es"
    return name + "s"
