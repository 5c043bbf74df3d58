"""Use cases: each flow orchestrates connectors, mapping and state; none speaks HTTP itself."""
