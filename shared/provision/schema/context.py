"""What a feature's declaration may depend on: the publisher prefix, the effective mapping, the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.mapping.config import MappingConfig


@dataclass(frozen=True)
class SchemaContext:
    prefix: str  # DATAVERSE_PREFIX, with its underscore: "new_"
    mapping: MappingConfig  # defaults.toml merged with MAPPING_FILE, "{prefix}" substituted
    marketplace_ids: tuple[str, ...]
    settings: Settings | None = None  # for features that need more (a Service Bus namespace, say)

    @classmethod
    def from_settings(cls, settings: Settings) -> SchemaContext:
        from shared.mapping.config import load_mapping

        return cls(
            prefix=settings.dataverse_prefix,
            mapping=load_mapping(settings.mapping_file, prefix=settings.dataverse_prefix),
            marketplace_ids=tuple(settings.spapi_marketplace_ids),
            settings=settings,
        )
