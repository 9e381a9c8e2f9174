"""The schema registry: `schemas/` governs what a command may carry, what an event may store, and how
old events are read as the current version (upcasting)."""

from chronicle.schemas.registry import SchemaRegistry, registry

__all__ = ["SchemaRegistry", "registry"]
