"""The layered layout: layers, no overlaps, back edges, long edges, nested lanes, determinism."""

from __future__ import annotations

import itertools

from stackflow.graph.layout import Edge, Graph, LayoutOptions, Node, layout


def boxes(*names: str, width: float = 100.0) -> list[Node]:
    return [Node(name, width, 40.0) for name in names]


def edges(*pairs: str) -> list[Edge]:
    return [Edge(*pair.split(">")) for pair in pairs]


def overlap(a: Node, b: Node) -> bool:
    return (
        a.x < b.x + b.width
        and b.x < a.x + a.width
        and a.y < b.y + b.height
        and b.y < a.y + a.height
    )


def test_a_chain_is_one_column_top_to_bottom() -> None:
    graph = layout(Graph(boxes("a", "b", "c"), edges("a>b", "b>c")))
    a, b, c = graph.nodes
    assert (a.layer, b.layer, c.layer) == (0, 1, 2)
    assert a.x == b.x == c.x == LayoutOptions().margin
    assert a.y < b.y < c.y
    first = graph.edges[0]
    assert first.points == [(a.x + 50, a.y + 40), (b.x + 50, b.y)]
    assert graph.width == 100 + 2 * LayoutOptions().margin


def test_a_diamond_spreads_and_nothing_overlaps() -> None:
    graph = layout(
        Graph(
            boxes("top", "left", "right", "bottom"),
            edges("top>left", "top>right", "left>bottom", "right>bottom"),
        )
    )
    nodes = {n.id: n for n in graph.nodes}
    assert nodes["left"].y == nodes["right"].y
    assert nodes["left"].x + 100 + LayoutOptions().node_gap <= nodes["right"].x
    for a, b in itertools.combinations(graph.nodes, 2):
        assert not overlap(a, b)
    middle = (nodes["left"].x + nodes["right"].x + 100) / 2
    assert abs(nodes["top"].x + 50 - middle) < 1
    assert abs(nodes["bottom"].x + 50 - middle) < 1


def test_a_loop_is_a_back_edge_routed_on_the_side() -> None:
    graph = layout(Graph(boxes("a", "b", "c"), edges("a>b", "b>c", "c>a")))
    back = [e for e in graph.edges if e.back]
    assert [(e.source, e.target) for e in back] == [("c", "a")]
    points = back[0].points
    right = max(n.x + n.width for n in graph.nodes)
    assert points[1][0] > right and points[2][0] > right
    assert points[1][0] <= graph.width
    assert [n.layer for n in graph.nodes] == [0, 1, 2]


def test_a_long_edge_bends_through_its_layers() -> None:
    graph = layout(Graph(boxes("a", "b", "c", "d"), edges("a>b", "b>c", "c>d", "a>d")))
    long = next(e for e in graph.edges if (e.source, e.target) == ("a", "d"))
    assert len(long.points) == 2 + 2 * 2  # two layers crossed, two points each
    column = {n.id: n for n in graph.nodes}["b"]
    for x, y in long.points[1:-1]:
        assert not (column.x <= x <= column.x + column.width and column.y <= y <= column.y + 40)


def test_the_same_two_nodes_twice_get_apart_edges() -> None:
    graph = layout(Graph(boxes("a", "b"), edges("a>b", "a>b")))
    first, second = graph.edges
    assert first.points != second.points
    assert first.points[0][1] == second.points[0][1]


def test_groups_hold_their_lanes_side_by_side() -> None:
    lane_one = Graph(boxes("x1", "x2"), edges("x1>x2"), id="lane:0")
    lane_two = Graph(boxes("y1"), [], id="lane:1")
    group = Node("group", 10.0, 10.0, lanes=[lane_one, lane_two])
    graph = layout(
        Graph([*boxes("start"), group, *boxes("end")], edges("start>group", "group>end"))
    )
    assert group.width >= lane_one.width + lane_two.width
    for lane in group.lanes:
        assert group.x <= lane.x and lane.x + lane.width <= group.x + group.width
        assert group.y <= lane.y and lane.y + lane.height <= group.y + group.height
        for node in lane.nodes:
            assert lane.x <= node.x and node.x + node.width <= lane.x + lane.width
            assert lane.y <= node.y and node.y + node.height <= lane.y + lane.height
    assert lane_one.x + lane_one.width <= lane_two.x
    assert lane_one.height == lane_two.height
    inner = lane_one.edges[0]
    x1, x2 = lane_one.nodes
    assert inner.points[0] == (x1.x + 50, x1.y + 40) and inner.points[-1] == (x2.x + 50, x2.y)
    end = {n.id: n for n in graph.nodes}["end"]
    assert end.y >= group.y + group.height


def test_the_layout_is_deterministic() -> None:
    def make() -> Graph:
        return layout(
            Graph(
                boxes("a", "b", "c", "d", "e"),
                edges("a>b", "a>c", "a>d", "b>e", "c>e", "d>b", "e>a"),
            )
        )

    first, second = make(), make()
    assert [(n.x, n.y) for n in first.nodes] == [(n.x, n.y) for n in second.nodes]
    assert [e.points for e in first.edges] == [e.points for e in second.edges]


def test_unknown_edge_ends_are_ignored_and_empty_graphs_work() -> None:
    graph = layout(Graph(boxes("a"), edges("a>zzz")))
    assert graph.edges[0].points == []
    empty = layout(Graph([], []))
    assert (empty.width, empty.height) == (2 * 24.0, 2 * 24.0)
