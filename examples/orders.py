"""Task functions of the example order pipeline (called as ``python:orders:FUNCTION``)."""

from __future__ import annotations

from typing import Any


def price_item(item: dict[str, Any]) -> dict[str, Any]:
    """Return an order line with its total price."""
    return {**item, "total": round(item["quantity"] * item["unit_price"], 2)}


def check_stock(order: dict[str, Any]) -> dict[str, Any]:
    """Pretend to check the warehouse: everything under 100 units is in stock."""
    short = [line["sku"] for line in order["lines"] if line["quantity"] >= 100]
    return {"in_stock": not short, "short": short}


def invoice(order: dict[str, Any]) -> dict[str, Any]:
    """Build an invoice from priced lines."""
    amount = round(sum(line["total"] for line in order["priced"]), 2)
    if amount <= 0:
        raise ValueError("an invoice needs a positive amount")
    return {"customer": order["customer"], "amount": amount, "currency": "EUR"}
