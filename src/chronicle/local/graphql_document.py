"""What a GraphQL document asks for, measured without expanding it: fragments are counted once each (memoised).

A document of 30 fragments that each spread the next one twice is 1.2 KB of text but 2^30 paths once expanded;
walking every path (or validating it) pins a core for minutes. Here each fragment definition is measured once,
from the measures of the fragments it spreads, so the cost is linear in the document's size whatever it expands
to, and the caller refuses the document before validation or execution.

``root_fields`` lists an operation's root fields through fragment spreads and inline fragments: what the
mutation guard and the subscription hub must see (``mutation { ...F }`` reaches ``F``'s fields too).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode,
                     OperationDefinitionNode, SelectionSetNode)


@dataclass(frozen=True)
class Measure:
    """Of one selection set, fully expanded: ``depth`` its deepest field (a field directly in it is 1),
    ``resolvers`` the fields directly in it (not introspection), ``fields`` every field at any depth."""

    depth: int = 0
    resolvers: int = 0
    fields: int = 0


_EMPTY = Measure()


class _Measurer:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.done: dict[str, Measure] = {}
        self.active: set[str] = set()  # fragments being measured: a cycle counts as empty (validation reports it)

    def fragment(self, name: str) -> Measure:
        if name in self.done:
            return self.done[name]
        if name in self.active or name not in self.fragments:
            return _EMPTY
        self.active.add(name)
        try:
            result = self.selection_set(self.fragments[name].selection_set)
        finally:
            self.active.discard(name)
        self.done[name] = result
        return result

    def selection_set(self, selection_set: SelectionSetNode) -> Measure:
        depth = resolvers = fields = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection.selection_set) if selection.selection_set else _EMPTY
                depth = max(depth, inner.depth + 1)
                resolvers += 0 if selection.name.value.startswith("__") else 1
                fields += 1 + inner.fields
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql-core has no other selection kind
                continue
            depth = max(depth, inner.depth)
            resolvers += inner.resolvers
            fields += inner.fields
        return Measure(depth, resolvers, fields)


def measure(document: DocumentNode, operation: OperationDefinitionNode) -> Measure:
    """The operation's measure, in one pass over each definition it reaches (fragments the operation does not
    use: ``largest_fragment``). A chain of fragments deeper than Python's recursion limit raises RecursionError."""
    return _Measurer(document).selection_set(operation.selection_set)


def largest_fragment(document: DocumentNode) -> Measure:
    """The largest measure of any fragment definition, used or not: validation walks unused ones too."""
    measurer = _Measurer(document)
    measures = [measurer.fragment(name) for name in measurer.fragments]
    return max(measures, key=lambda m: (m.fields, m.depth), default=_EMPTY)


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> list[FieldNode]:
    """The operation's root fields, in document order, through fragment spreads and inline fragments (each
    fragment once: graphql-core's execution collects a fragment once per selection set too)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found: list[FieldNode] = []
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    walk(fragments[name].selection_set)

    walk(operation.selection_set)
    return found
