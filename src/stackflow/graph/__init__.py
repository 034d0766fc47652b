"""Pure dependency-graph helpers: cycles, topological order, reverse edges."""

from stackflow.graph.dag import find_cycle, reverse_dependencies, topological_order

__all__ = ["find_cycle", "reverse_dependencies", "topological_order"]
