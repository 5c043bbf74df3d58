"""The metadata side of the emulator: table, column, key and relationship definitions that change at run time.

Modules: labels (Label ComplexType), naming (schema and entity set names), attributes (AttributeMetadata in
and out), entities (EntityMetadata in and out), keys (EntityKeyMetadata and its index job), catalog (the live
schema), routes (the EntityDefinitions / RelationshipDefinitions endpoints).
"""

from .catalog import Catalog, Relationship
from .keys import IMMEDIATE, EntityKey, KeyIndexTiming, KeyStatus

__all__ = ["IMMEDIATE", "Catalog", "EntityKey", "KeyIndexTiming", "KeyStatus", "Relationship"]
