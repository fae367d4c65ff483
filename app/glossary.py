"""What every card's figure means, written once: each card's help tooltip and docs/metrics.md.

`python -m app.glossary` regenerates docs/metrics.md from this module (`make docs` does it); a
test proves the committed file is current and that every card on every page shows its text.
The definitions restate what the dbt marts compute (models/marts/); the marts are the truth.
"""

from __future__ import annotations

import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"

# Terms the card definitions use.
TERMS: dict[str, str] = {
    "Revenue": (
        "The net amount (quantity × unit price − discount) of order lines whose order is "
        "pending, processing or completed. Cancelled and returned orders never count, nor lines "
        "whose order header is in quarantine (status 'unknown'). Computed in DECIMAL; shown "
        "rounded half-up to the cent."
    ),
    "Revenue order": "An order with at least one line that counts for revenue.",
    "Order": (
        "An order with at least one line in the warehouse, whatever its status (pending, "
        "processing, completed, cancelled, returned, or unknown while its header is in quarantine)."
    ),
    "As of": (
        "The data's last day: the later of the last day with an order and the last day with a "
        "clickstream event (model data_as_of). Every relative window ends on it, never on the "
        "wall clock."
    ),
    "Last month": (
        "The last complete calendar month on the as-of day: the month before the as-of month, "
        "or the as-of month itself when the as-of day is its last day."
    ),
    "Last N days": "The N days ending on the as-of day, the as-of day included.",
    "Date range": (
        "The sidebar's range of days, from the data's first day to its as-of day (orders and "
        "clickstream events alike). Under each card a line says whether it follows the range, "
        "covers all time, or a window ending on the as-of day."
    ),
    "Customer segment": (
        "The customer's segment in the shop (bronze, silver, gold, platinum). Customer cards use "
        "the segment the customer is in now (the current version of the customer); revenue by "
        "segment uses the segment the customer was in when the order was placed (the customer "
        "version valid at order time, SCD2). Customers change segment, so the two differ."
    ),
    "Session": (
        "A clickstream session (session_id), dated by its first event's UTC day, with the device "
        "of its events."
    ),
}

# Page → card title → what its figure is. Titles are the cards' own (a title that the page
# completes, "Revenue last month (Mon YYYY)", is keyed by its fixed start).
CARDS: dict[str, dict[str, str]] = {
    "Executive": {
        "Total revenue": (
            "Revenue of the orders placed in the date range: orders pending, processing or "
            "completed count; cancelled and returned orders do not."
        ),
        "Revenue last month": (
            "Revenue of last month (the last complete calendar month on the as-of day), and its "
            "change from the month before, in percent (MoM)."
        ),
        "Total orders": "Orders placed in the date range, of every status.",
        "Average order value": (
            "Revenue in the date range divided by the revenue orders in it, the count under the "
            "title: orders pending, processing or completed (Total orders counts every status, "
            "cancelled and returned too)."
        ),
        "Active customers (last 30 days)": (
            "Distinct customers who placed an order, of any status, in the 30 days ending on the "
            "as-of day."
        ),
        "Revenue trend, last 12 months": (
            "Revenue per calendar month, for the 12 months up to the as-of day's month; that last "
            "month is partial unless the as-of day ends it."
        ),
        "Daily orders, last 90 days": (
            "Orders of every status per order day, for the 90 days ending on the as-of day."
        ),
        "Top 5 categories by revenue": (
            "The five product categories with the most revenue in the date range."
        ),
    },
    "Product Performance": {
        "Top 10 products by revenue": (
            "The ten products with the most revenue over all time, with their revenue orders and "
            "units sold in them. Follows the category filter, not the date range."
        ),
        "Category performance": (
            "Per category, in the date range: revenue orders, units, revenue and average item "
            "value (revenue ÷ units)."
        ),
        "Rating vs sales": (
            "Each product's catalog rating (1–5 stars) against its units sold in revenue orders "
            "over all time; the bubble's size is its revenue. Under the title, over the rated "
            "products of the chosen categories: Pearson's r (linear correlation of rating and "
            "units) and Spearman's ρ (the same on their ranks, ties sharing their mean rank), "
            "from −1 to 1; none with fewer than three products."
        ),
        "Slow-moving inventory": (
            "Products by units sold in revenue orders in the last 90 days: No Sales (0), Critical "
            "(1–2), Slow (3–9); with their stock in the catalog. Not the date range."
        ),
    },
    "Customer Analytics": {
        "Customers by tier": (
            "Customers per tier (bronze, silver, gold, platinum) as they are on the as-of day "
            "(the current version of each customer), with their lifetime value: their revenue "
            "over all time."
        ),
        "Win-back customers": (
            "Customers worth winning back: two or more revenue orders, and silent (days since "
            "their last revenue order, to the as-of day) for at least 60 days and for more than "
            "twice their usual gap (days from their first to their last order ÷ (orders − 1)). "
            "Revenue at stake: the sum of their revenue a year, their lifetime value × 365 ÷ "
            "days from their first order to the as-of day. The list downloads as CSV."
        ),
        "Lifetime value distribution": (
            "Customers (each once, as they are now) by lifetime value, their revenue over all "
            "time: No Orders, under $100, $100–500, $500–1K, $1K–5K, over $5K."
        ),
        "Customer segments by spend": (
            "Customers by lifetime value: VIP from $5,000, High from $1,000, Medium from $500, "
            "Low below $500; No Orders for customers without a revenue order."
        ),
        "Top 20 customers": (
            "The twenty customers with the highest lifetime value, with their revenue orders."
        ),
        "Order frequency": (
            "Customers by their number of revenue orders over all time: 0, 1, 2–3, 4–5, 6–10, "
            "more than 10."
        ),
        "Revenue by segment at order time": (
            "Revenue, revenue orders and average order value in the date range, per segment the "
            "customer was in when the order was placed (not the segment they are in now); the "
            "segment filter picks orders by that segment too."
        ),
    },
    "Funnel Analysis": {
        "Conversion funnel": (
            "Sessions in the date range, of the chosen devices, that viewed a product, added "
            "one to the cart and purchased (each at least once); per device and for all chosen "
            "devices: view → cart (cart sessions ÷ viewing sessions), cart → purchase (purchase "
            "sessions ÷ cart sessions) and conversion (purchase sessions ÷ all sessions)."
        ),
        "Conversion rates over time": (
            "The funnel's view → cart, cart → purchase and conversion rates per day, or per "
            "week (from Monday) when the date range spans 92 days or more; each a ratio of the "
            "period's session counts."
        ),
        "Event type distribution": (
            "Clickstream events by type, in sessions whose day is in the date range, for the "
            "chosen devices."
        ),
        "Device type performance": (
            "Per device, in the date range: events, sessions, and page view, add-to-cart and "
            "purchase events."
        ),
        "Hourly activity": (
            "Per hour of day (UTC), in the date range: events, and sessions active in the hour "
            "(with an event in it: a session spanning two hours counts in both)."
        ),
        "Daily event trend, last 30 days": (
            "Per session day, for the 30 days ending on the as-of day: events, sessions, and "
            "purchase sessions (sessions with at least one purchase event)."
        ),
    },
    "Data Health": {
        "Last pipeline runs": (
            "Every recorded pipeline run, newest first: its state, window, rows landed and "
            "quarantined, gate outcome, the past days whose figures late data changed (an "
            "earlier order's status change, an event that arrived late) and, for a failure, "
            "its reason."
        ),
        "Rows per model": "Rows in each table of the published warehouse.",
        "Quality gate": (
            "The Soda contract checks of the last gated build: outcome and measured value per "
            "check. A build that fails one is not published."
        ),
        "Freshness and quarantine": (
            "Per source: data age (days from its newest data to the run's last day) and load age "
            "(hours since it last landed), warned after 2 days and stale after 7; then each "
            "source's last ingestion and the records it quarantined."
        ),
    },
}


def help_for(title: str) -> str:
    """The definition of a card, by its title (or the fixed start of a completed title)."""
    for cards in CARDS.values():
        for card, text in cards.items():
            if title == card or title.startswith(f"{card} ("):
                return text
    raise KeyError(f"no glossary entry for the card {title!r}: add it to app/glossary.py")


def render() -> str:
    lines = [
        "# Metrics glossary",
        "",
        "Generated from `app/glossary.py` by `python -m app.glossary` (`make docs`); do not edit",
        "by hand. Each card's help tooltip on the dashboards shows the same text.",
        "",
        "## Terms",
        "",
    ]
    lines += [f"- **{term}**: {text}" for term, text in TERMS.items()]
    for page, cards in CARDS.items():
        lines += ["", f"## {page}", ""]
        lines += [f"- **{card}**: {text}" for card, text in cards.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    sys.stdout.write(f"wrote {TARGET}\n")
