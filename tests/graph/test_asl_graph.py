"""An ASL definition as a laid-out graph: states, lanes, edge kinds and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stackflow.graph.asl_graph import definition_graph, state_scopes

ORDERS = Path(__file__).resolve().parents[2] / "examples" / "orders.asl.yaml"

LOOP = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.n", "NumericLessThan": 3, "Next": "Work"},
                {"Condition": "{% $states.input.n = 9 %}", "Next": "Stop"},
            ],
            "Default": "Done",
        },
        "Work": {
            "Type": "Task",
            "Resource": "python:m:f",
            "Catch": [{"ErrorEquals": ["A", "B"], "Next": "Stop"}],
            "Next": "Check",
        },
        "Stop": {"Type": "Fail", "Error": "X"},
        "Done": {"Type": "Succeed"},
    },
}


def by_id(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in graph["nodes"]}


def test_orders_example() -> None:
    graph = definition_graph(yaml.safe_load(ORDERS.read_text()))
    nodes = by_id(graph)
    assert nodes["state:PriceLines"]["kind"] == "map"
    assert nodes["processor:PriceLines"]["parent"] == "state:PriceLines"
    assert nodes["state:Price"]["parent"] == "processor:PriceLines"
    assert nodes["state:Price"]["start"] is True
    assert [nodes[f"branch:Checks:{n}"]["label"] for n in (0, 1)] == ["Branch 1", "Branch 2"]
    assert nodes["state:Invoice"]["branch"] == 1
    choice = [e for e in graph["edges"] if e["from"] == "state:InStock?"]
    assert {(e["kind"], e["to"]) for e in choice} == {
        ("choice", "state:Notify"),
        ("default", "state:Backorder"),
    }
    assert next(e for e in choice if e["kind"] == "choice")["label"] == (
        "$.checks.stock.in_stock == true"
    )
    assert nodes["state:Backorder"]["terminal"] is True
    ends = {e["from"] for e in graph["edges"] if e["to"] == "end"}
    assert "state:Backorder" in ends
    assert {e["scope"] for e in graph["edges"]} == {None}  # single-state lanes: no inner edges


def test_loops_catches_and_labels() -> None:
    graph = definition_graph(LOOP)
    edges = {(e["from"], e["to"], e["kind"]): e for e in graph["edges"]}
    assert edges["start", "state:Check", "start"]
    catch = edges["state:Work", "state:Stop", "catch"]
    assert catch["dashed"] is True and catch["label"] == "A, B"
    assert edges["state:Work", "state:Check", "next"]["back"] is True
    assert edges["state:Check", "state:Work", "choice"]["label"] == "$.n < 3"
    assert edges["state:Check", "state:Stop", "choice"]["label"] == "{% $states.input.n = 9 %}"
    assert edges["state:Check", "state:Done", "default"]["label"] == "Default"
    assert not any(e["dashed"] for e in graph["edges"] if e["kind"] != "catch")
    assert definition_graph(LOOP) == graph


def test_nested_parallel_in_map_and_scopes() -> None:
    document = {
        "StartAt": "Outer",
        "States": {
            "Outer": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Parallel",
                            "Branches": [
                                {
                                    "StartAt": "A",
                                    "States": {
                                        "A": {"Type": "Pass", "Next": "B"},
                                        "B": {"Type": "Pass", "End": True},
                                    },
                                },
                                {"StartAt": "C", "States": {"C": {"Type": "Pass", "End": True}}},
                            ],
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    scopes = state_scopes(document)
    assert (scopes["Inner"].parent, scopes["Inner"].branch) == ("Outer", 0)
    assert (scopes["C"].parent, scopes["C"].branch, scopes["C"].state_type) == ("Inner", 1, "Pass")
    graph = definition_graph(document)
    nodes = by_id(graph)
    assert nodes["state:A"]["parent"] == "branch:Inner:0"
    assert nodes["branch:Inner:0"]["parent"] == "state:Inner"
    assert nodes["state:Inner"]["parent"] == "processor:Outer"
    inner_edge = next(e for e in graph["edges"] if e["from"] == "state:A")
    assert (inner_edge["to"], inner_edge["scope"]) == ("state:B", "branch:Inner:0")
    outer, a = nodes["state:Outer"], nodes["state:A"]
    assert outer["x"] < a["x"] and a["x"] + a["width"] < outer["x"] + outer["width"]


def test_a_broken_definition_still_draws_what_it_can() -> None:
    graph = definition_graph({"StartAt": "Gone", "States": {"A": {"Type": "Pass", "Next": "Z"}}})
    assert {n["id"] for n in graph["nodes"]} == {"start", "end", "state:A"}
    assert graph["edges"] == []
    assert definition_graph({})["nodes"][0]["id"] == "start"
