"""A deterministic layered layout of directed graphs with nested groups, for drawing as SVG.

The layout follows the usual layered (Sugiyama) steps, kept small and deterministic (the same
graph always gives the same coordinates, so a UI can cache and compare them):

1. *Groups first.* A node may hold lanes (sub-graphs drawn side by side inside it, such as the
   branches of a Parallel state); the lanes are laid out first, and the node is sized to hold them.
2. *Cycles.* A depth-first search in input order marks the edges that close a cycle as back
   edges; they are left out of the layering and routed around the side.
3. *Layers.* Each node goes on the layer after the deepest of its predecessors (longest path).
4. *Long edges* get a dummy point on every layer they cross, so they bend around nodes.
5. *Order.* Within a layer, nodes (and dummies) start in discovery order and are reordered by
   the barycenter of their neighbours, sweeping down and up a fixed number of times.
6. *Coordinates.* Layers stack top to bottom; within a layer each node is pulled towards the
   mean of its neighbours and pushed apart to keep a gap, preserving the order.

Coordinates are absolute after :func:`layout`: ``x``/``y`` is a node's top-left corner; an edge's
``points`` are a polyline from the source's bottom to the target's top (back edges leave and
enter on the right side). Pure: no I/O.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

__all__ = ["Edge", "Graph", "LayoutOptions", "Node", "layout"]

#: Horizontal distance between edges that join the same two nodes.
_PARALLEL_OFFSET = 10.0


@dataclass(frozen=True)
class LayoutOptions:
    """Spacing of a layout, in pixels.

    Attributes:
        node_gap: Horizontal gap between neighbours on a layer.
        layer_gap: Vertical gap between layers.
        margin: Space around a top-level graph.
        group_padding: Space between a group's border and its lanes.
        group_header: Height of a group's title bar, above its lanes.
        lane_gap: Horizontal gap between the lanes of a group.
        lane_padding: Space between a lane's border and its nodes.
        dummy_width: Width reserved for an edge crossing a layer.
        sweeps: Barycenter ordering passes (each one down and up).
    """

    node_gap: float = 32.0
    layer_gap: float = 48.0
    margin: float = 24.0
    group_padding: float = 12.0
    group_header: float = 32.0
    lane_gap: float = 16.0
    lane_padding: float = 16.0
    dummy_width: float = 16.0
    sweeps: int = 4


@dataclass
class Graph:
    """A graph to lay out: nodes and directed edges (node ids must be unique in the graph).

    Attributes:
        nodes: The nodes, in a meaningful order (it breaks ties: the start node first).
        edges: The edges between those nodes.
        id: An id for the graph (a lane's id), or "".
        width: Set by :func:`layout`: the graph's width.
        height: Set by :func:`layout`: the graph's height.
        x: Set by :func:`layout`: the left of a lane (absolute).
        y: Set by :func:`layout`: the top of a lane (absolute).
    """

    nodes: list[Node]
    edges: list[Edge]
    id: str = ""
    width: float = 0.0
    height: float = 0.0
    x: float = 0.0
    y: float = 0.0


@dataclass
class Node:
    """A node: a box of a given size, or a group whose lanes are laid out inside it.

    Attributes:
        id: Unique id within its graph.
        width: The box's width (a group grows to fit its lanes).
        height: The box's height (a group grows to fit its lanes).
        lanes: Sub-graphs drawn side by side inside the node (empty for a plain node).
        x: Set by :func:`layout`: left edge (absolute).
        y: Set by :func:`layout`: top edge (absolute).
        layer: Set by :func:`layout`: the layer index within its graph.
    """

    id: str
    width: float
    height: float
    lanes: list[Graph] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    layer: int = 0


@dataclass
class Edge:
    """A directed edge.

    Attributes:
        source: The source node's id.
        target: The target node's id.
        points: Set by :func:`layout`: the polyline to draw (absolute ``(x, y)`` pairs).
        back: Set by :func:`layout`: True when the edge closes a cycle (drawn on the side).
    """

    source: str
    target: str
    points: list[tuple[float, float]] = field(default_factory=list)
    back: bool = False


def layout(graph: Graph, options: LayoutOptions | None = None) -> Graph:
    """Lay out ``graph`` (and every lane inside its nodes) in place and return it.

    Args:
        graph: The graph; edges naming unknown nodes are ignored.
        options: Spacing (default :class:`LayoutOptions`).

    Returns:
        The same graph, with ``width``/``height`` set, every node's ``x``/``y`` and every
        edge's ``points`` in absolute coordinates, the top-left corner of the drawing at (0, 0).
    """
    opts = options or LayoutOptions()
    _measure(graph, opts)
    width, height = graph.width, graph.height
    graph.width, graph.height = width + 2 * opts.margin, height + 2 * opts.margin
    _translate(graph, opts.margin, opts.margin)
    return graph


# ------------------------------------------------------------------------------ measuring


@dataclass
class _Slot:
    """A node or a dummy point on one layer (``node`` None for a dummy)."""

    key: str
    width: float
    node: Node | None
    layer: int
    center: float = 0.0


def _measure(graph: Graph, opts: LayoutOptions) -> None:
    """Lay out ``graph`` with its top-left corner at (0, 0) (coordinates relative)."""
    for node in graph.nodes:
        if node.lanes:
            _size_group(node, opts)
    ids = {node.id: node for node in graph.nodes}
    edges = [e for e in graph.edges if e.source in ids and e.target in ids]
    _mark_back_edges(graph.nodes, edges)
    forward = [e for e in edges if not e.back and e.source != e.target]
    _assign_layers(graph.nodes, forward)
    layers = _build_layers(graph.nodes, forward, opts)
    _order_layers(layers, forward, opts.sweeps)
    tops = _place_layers(layers, opts)
    _place_within_layers(layers, forward, opts)
    left = min((s.center - s.width / 2 for layer in layers for s in layer), default=0.0)
    right = 0.0
    for layer in layers:
        for slot in layer:
            slot.center -= left
            right = max(right, slot.center + slot.width / 2)
    for index, layer in enumerate(layers):
        for slot in layer:
            if slot.node is not None:
                slot.node.x = slot.center - slot.node.width / 2
                slot.node.y = tops[index]
    bottom = max((node.y + node.height for node in graph.nodes), default=0.0)
    centers = {slot.key: slot for layer in layers for slot in layer}
    numbers = {id(edge): number for number, edge in enumerate(forward)}
    repeats: dict[tuple[str, str], int] = {}
    for edge in edges:
        _route(edge, numbers.get(id(edge), -1), ids, centers, tops, layers, opts)
        count = repeats.get((edge.source, edge.target), 0)
        repeats[edge.source, edge.target] = count + 1
        if count:  # the same two nodes again: draw it beside the first one
            dx = _PARALLEL_OFFSET * ((count + 1) // 2) * (1 if count % 2 else -1)
            edge.points = [(x + dx, y) for x, y in edge.points]
    back_right = max((p[0] for e in edges if e.back for p in e.points), default=0.0)
    graph.width = max(right, back_right)
    graph.height = bottom
    for node in graph.nodes:
        for lane in node.lanes:
            _translate(lane, node.x, node.y)


def _size_group(node: Node, opts: LayoutOptions) -> None:
    """Lay out a group's lanes side by side and grow the group to hold them."""
    x = opts.group_padding
    tallest = 0.0
    for lane in node.lanes:
        _measure(lane, opts)
        lane.width += 2 * opts.lane_padding
        lane.height += 2 * opts.lane_padding
        lane.x, lane.y = x, opts.group_header
        x += lane.width + opts.lane_gap
        tallest = max(tallest, lane.height)
    inner = x - opts.lane_gap + opts.group_padding
    node.width = max(node.width, inner)
    node.height = max(node.height, opts.group_header + tallest + opts.group_padding)
    spare = (node.width - inner) / 2
    for lane in node.lanes:  # center the lanes in a group wider than them; equal heights
        lane.x += spare
        lane.height = tallest
        _translate_contents(lane, lane.x + opts.lane_padding, lane.y + opts.lane_padding)


def _translate(graph: Graph, dx: float, dy: float) -> None:
    """Move a graph's lane box and contents by (dx, dy)."""
    graph.x += dx
    graph.y += dy
    _translate_contents(graph, dx, dy)


def _translate_contents(graph: Graph, dx: float, dy: float) -> None:
    for node in graph.nodes:
        node.x += dx
        node.y += dy
        for lane in node.lanes:
            _translate(lane, dx, dy)
    for edge in graph.edges:
        edge.points = [(x + dx, y + dy) for x, y in edge.points]


# ------------------------------------------------------------------------------ layering


def _mark_back_edges(nodes: list[Node], edges: list[Edge]) -> None:
    """Mark the edges that close a cycle in a depth-first search taken in input order."""
    outgoing: dict[str, list[Edge]] = {node.id: [] for node in nodes}
    for edge in edges:
        edge.back = False
        outgoing[edge.source].append(edge)
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for root in nodes:
        if root.id in state:
            continue
        stack: list[tuple[str, int]] = [(root.id, 0)]
        state[root.id] = 1
        while stack:
            current, index = stack[-1]
            out = outgoing[current]
            if index == len(out):
                state[current] = 2
                stack.pop()
                continue
            stack[-1] = (current, index + 1)
            edge = out[index]
            seen = state.get(edge.target)
            if seen == 1:
                edge.back = True
            elif seen is None:
                state[edge.target] = 1
                stack.append((edge.target, 0))


def _assign_layers(nodes: list[Node], forward: list[Edge]) -> None:
    """Put each node one layer below its deepest predecessor (sources on layer 0)."""
    incoming = {node.id: 0 for node in nodes}
    outgoing: dict[str, list[str]] = {node.id: [] for node in nodes}
    for edge in forward:
        incoming[edge.target] += 1
        outgoing[edge.source].append(edge.target)
    layer = {node.id: 0 for node in nodes}
    ready = [node.id for node in nodes if incoming[node.id] == 0]
    position = {node.id: index for index, node in enumerate(nodes)}
    while ready:
        current = ready.pop(0)
        for target in outgoing[current]:
            layer[target] = max(layer[target], layer[current] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
                ready.sort(key=position.__getitem__)
    for node in nodes:
        node.layer = layer[node.id]


def _build_layers(nodes: list[Node], forward: list[Edge], opts: LayoutOptions) -> list[list[_Slot]]:
    """Return the layers with nodes and one dummy slot per layer a long edge crosses."""
    count = max((node.layer for node in nodes), default=-1) + 1
    layers: list[list[_Slot]] = [[] for _ in range(count)]
    for node in _discovery_order(nodes, forward):
        layers[node.layer].append(_Slot(node.id, node.width, node, node.layer))
    by_id = {node.id: node for node in nodes}
    for number, edge in enumerate(forward):
        low, high = by_id[edge.source].layer, by_id[edge.target].layer
        for layer in range(low + 1, high):
            layers[layer].append(_Slot(_dummy(number, layer), opts.dummy_width, None, layer))
    return layers


def _discovery_order(nodes: list[Node], forward: list[Edge]) -> list[Node]:
    """Return the nodes breadth first from the sources, in input order (a good first order)."""
    outgoing: dict[str, list[str]] = {node.id: [] for node in nodes}
    targets = set()
    for edge in forward:
        outgoing[edge.source].append(edge.target)
        targets.add(edge.target)
    by_id = {node.id: node for node in nodes}
    seen: set[str] = set()
    order: list[Node] = []
    queue = [node.id for node in nodes if node.id not in targets]
    queue += [node.id for node in nodes if node.id in targets]  # unreachable leftovers last
    while queue:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        order.append(by_id[current])
        queue[0:0] = [t for t in outgoing[current] if t not in seen]  # depth-ish, keeps chains
    return order


def _dummy(edge_number: int, layer: int) -> str:
    return f"\x00edge{edge_number}@{layer}"


def _chains(forward: list[Edge], layer_of: dict[str, int]) -> list[tuple[str, str]]:
    """Return the layer-to-layer links, long edges split through their dummy slots."""
    links: list[tuple[str, str]] = []
    for number, edge in enumerate(forward):
        low, high = layer_of[edge.source], layer_of[edge.target]
        path = [edge.source, *(_dummy(number, n) for n in range(low + 1, high)), edge.target]
        links += list(itertools.pairwise(path))
    return links


def _order_layers(layers: list[list[_Slot]], forward: list[Edge], sweeps: int) -> None:
    """Reorder each layer by the barycenter of its neighbours, sweeping down then up."""
    layer_of = {slot.key: slot.layer for layer in layers for slot in layer}
    links = _chains(forward, layer_of)
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for source, target in links:
        ups.setdefault(target, []).append(source)
        downs.setdefault(source, []).append(target)
    for _ in range(sweeps):
        for index in range(1, len(layers)):
            _reorder(layers[index], layers[index - 1], ups)
        for index in range(len(layers) - 2, -1, -1):
            _reorder(layers[index], layers[index + 1], downs)


def _reorder(layer: list[_Slot], fixed: list[_Slot], neighbours: dict[str, list[str]]) -> None:
    position = {slot.key: index for index, slot in enumerate(fixed)}

    def weight(item: tuple[int, _Slot]) -> tuple[float, int]:
        index, slot = item
        near = [position[n] for n in neighbours.get(slot.key, []) if n in position]
        return (sum(near) / len(near) if near else float(index), index)

    layer[:] = [slot for _, slot in sorted(enumerate(layer), key=weight)]


# ------------------------------------------------------------------------------ coordinates


def _place_layers(layers: list[list[_Slot]], opts: LayoutOptions) -> list[float]:
    """Return the top of each layer (layers as tall as their tallest node)."""
    tops: list[float] = []
    y = 0.0
    for layer in layers:
        tops.append(y)
        tallest = max((s.node.height for s in layer if s.node is not None), default=0.0)
        y += tallest + opts.layer_gap
    return tops


def _place_within_layers(
    layers: list[list[_Slot]], forward: list[Edge], opts: LayoutOptions
) -> None:
    """Give every slot a center: packed first, then pulled towards its neighbours."""
    for layer in layers:
        x = 0.0
        for slot in layer:
            slot.center = x + slot.width / 2
            x += slot.width + opts.node_gap
    widest = max((_span(layer) for layer in layers), default=0.0)
    for layer in layers:  # center every layer under the widest one
        shift = (widest - _span(layer)) / 2
        for slot in layer:
            slot.center += shift
    layer_of = {slot.key: slot.layer for layer in layers for slot in layer}
    slots = {slot.key: slot for layer in layers for slot in layer}
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for source, target in _chains(forward, layer_of):
        ups.setdefault(target, []).append(source)
        downs.setdefault(source, []).append(target)
    for _ in range(3):
        for layer in layers[1:]:
            _align(layer, ups, slots, opts.node_gap)
        for layer in reversed(layers[:-1]):
            _align(layer, downs, slots, opts.node_gap)
    for layer in layers[1:]:
        _align(layer, ups, slots, opts.node_gap)


def _span(layer: list[_Slot]) -> float:
    if not layer:
        return 0.0
    return layer[-1].center + layer[-1].width / 2 - (layer[0].center - layer[0].width / 2)


def _align(
    layer: list[_Slot], neighbours: dict[str, list[str]], slots: dict[str, _Slot], gap: float
) -> None:
    """Move each slot of a layer towards the mean center of its neighbours, keeping the order."""
    wanted: list[float] = []
    for slot in layer:
        near = [slots[n].center for n in neighbours.get(slot.key, [])]
        wanted.append(sum(near) / len(near) if near else slot.center)
    placed: list[float] = []
    for index, slot in enumerate(layer):
        x = wanted[index]
        if placed:
            previous = layer[index - 1]
            x = max(x, placed[-1] + previous.width / 2 + gap + slot.width / 2)
        placed.append(x)
    # Pushing only moves right: shift the packed layer back so that it sits, on average, where
    # its slots want to be (a uniform shift keeps the order and the gaps).
    shift = sum(w - p for w, p in zip(wanted, placed, strict=True)) / len(layer) if layer else 0.0
    for slot, x in zip(layer, placed, strict=True):
        slot.center = x + shift


# ------------------------------------------------------------------------------ routing


def _route(
    edge: Edge,
    number: int,
    ids: dict[str, Node],
    slots: dict[str, _Slot],
    tops: list[float],
    layers: list[list[_Slot]],
    opts: LayoutOptions,
) -> None:
    """Set an edge's polyline (relative coordinates); ``number`` is its index among the
    forward edges (it names the edge's dummy slots)."""
    source, target = ids[edge.source], ids[edge.target]
    if edge.back or source is target:
        low = min(source.layer, target.layer)
        high = max(source.layer, target.layer)
        right = max(
            (
                s.center + s.width / 2
                for layer in layers[low : high + 1]
                for s in layer
                if s.node is not None
            ),
            default=source.x + source.width,
        )
        x = right + opts.node_gap / 2
        start = (source.x + source.width, source.y + source.height / 2)
        end = (target.x + target.width, target.y + target.height / 2)
        edge.points = [start, (x, start[1]), (x, end[1]), end]
        return
    points = [(source.x + source.width / 2, source.y + source.height)]
    for layer in range(source.layer + 1, target.layer):
        slot = slots[_dummy(number, layer)]
        points.append((slot.center, tops[layer]))
        points.append((slot.center, tops[layer + 1] - opts.layer_gap))
    points.append((target.x + target.width / 2, target.y))
    edge.points = points
