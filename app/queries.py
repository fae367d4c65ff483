"""Every query the dashboards run: selects on the published marts, filters as parameters.

Metric definitions live in the dbt marts; queries here only filter mart rows and add up
additive mart columns over the filtered range (see docs/decisions/005-app-reads-marts.md).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from app.data import query


def money_ratio(money: str, count: str) -> str:
    """SQL for money ÷ count in exact cents, rounded half-up once: DuckDB divides DECIMALs in
    floating point (52.905 would show as 52.90). NULL when the count is 0."""
    cents = f"(({money}) * 100)::hugeint"
    return f"((2 * {cents} + ({count})) // nullif(2 * ({count}), 0))::decimal(18, 0) * 0.01"


# --- filters' choices -------------------------------------------------------------------


def data_range() -> tuple[date, date]:
    """The data's first to last day, orders and clickstream events alike (data_as_of)."""
    row = query("select first_day, as_of_date from data_as_of").iloc[0]
    return row.iloc[0].date(), row.iloc[1].date()


def categories() -> list[str]:
    return query("select distinct category from product_performance order by 1").category.tolist()


def segments() -> list[str]:
    """The customer segments in the warehouse, lowest tier first."""
    frame = query("select distinct customer_segment from customer_lifetime_value")
    present = set(frame.customer_segment)
    return [name for name in CUSTOMER_SEGMENTS if name in present] + sorted(
        present - set(CUSTOMER_SEGMENTS)
    )


def devices() -> list[str]:
    return query("select distinct device_type from funnel_daily order by 1").device_type.tolist()


# --- executive ------------------------------------------------------------------------------


def headline() -> pd.Series:
    return query(
        """
        select as_of_date, last_month_start, revenue_last_month, revenue_mom_change_pct,
               active_customers_30d
        from executive_kpis
        """
    ).iloc[0]


def totals(start: date, end: date) -> pd.Series:
    return query(
        f"""
        select sum(revenue) as revenue, sum(orders) as orders,
               sum(revenue_orders) as revenue_orders,
               {money_ratio("sum(revenue)", "sum(revenue_orders)")} as average_order_value
        from daily_kpis where date_day between ? and ?
        """,
        (start, end),
    ).iloc[0]


def revenue_trend(as_of: date) -> pd.DataFrame:
    return query(
        """
        select month_start, revenue from monthly_kpis
        where month_start > date_trunc('month', ?::date) - interval 12 month
        order by month_start
        """,
        (as_of,),
    )


def partial_month(trend: pd.DataFrame, as_of: date) -> str | None:
    """The as-of day, when the trend's last month is the as-of month and that day does not
    end it (the month is partial); otherwise None."""
    if trend.empty or (as_of + timedelta(days=1)).day == 1:
        return None
    last = trend.month_start.iloc[-1]
    return f"{as_of:%Y-%m-%d}" if (last.year, last.month) == (as_of.year, as_of.month) else None


def daily_orders(as_of: date) -> pd.DataFrame:
    return query(
        """
        select date_day, orders from daily_kpis
        where date_day > ?::date - interval 90 day order by date_day
        """,
        (as_of,),
    )


def top_categories(start: date, end: date, limit: int = 5) -> pd.DataFrame:
    return query(
        """
        select category, sum(revenue) as revenue from category_daily
        where order_date between ? and ?
        group by category order by revenue desc, category limit ?
        """,
        (start, end, limit),
    )


# --- products -------------------------------------------------------------------------------


def _in(values: list[str]) -> str:
    return ", ".join("?" for _ in values) or "null"


def top_products(selected: list[str], limit: int = 10) -> pd.DataFrame:
    return query(
        f"""
        select product_name, category, orders, units, revenue from product_performance
        where category in ({_in(selected)})
        order by revenue desc, product_id limit ?
        """,
        (*selected, limit),
    )


def category_performance(selected: list[str], start: date, end: date) -> pd.DataFrame:
    return query(
        f"""
        select category, sum(orders) as orders, sum(units) as units, sum(revenue) as revenue,
               {money_ratio("sum(revenue)", "sum(units)")} as average_item_value
        from category_daily
        where category in ({_in(selected)}) and order_date between ? and ?
        group by category having sum(units) > 0 order by revenue desc
        """,
        (*selected, start, end),
    )


def rating_sales_correlation(selected: list[str]) -> pd.DataFrame:
    """Pearson's r and Spearman's rho between a product's rating and the units it sold, over
    the rated products of the chosen categories (Spearman: Pearson on average ranks, ties
    sharing the mean of their ranks)."""
    return query(
        f"""
        select count(*) as products, corr(rating_rate, units) as pearson,
            corr(rating_rank, units_rank) as spearman
        from (
            select rating_rate, units,
                rank() over (order by rating_rate)
                    + (count(*) over (partition by rating_rate) - 1) / 2 as rating_rank,
                rank() over (order by units)
                    + (count(*) over (partition by units) - 1) / 2 as units_rank
            from product_performance
            where category in ({_in(selected)}) and rating_rate is not null
        )
        """,
        tuple(selected),
    )


def rating_vs_sales(selected: list[str]) -> pd.DataFrame:
    return query(
        f"""
        select product_name, category, rating_rate, units, revenue from product_performance
        where category in ({_in(selected)}) and rating_rate is not null
        order by product_id
        """,
        tuple(selected),
    )


def slow_movers(selected: list[str]) -> pd.DataFrame:
    return query(
        f"""
        select product_name, category, stock_quantity, units_last_90_days, inventory_status
        from product_performance
        where category in ({_in(selected)}) and inventory_status <> 'Normal'
        order by units_last_90_days, stock_quantity desc, product_id
        """,
        tuple(selected),
    )


# --- customers ------------------------------------------------------------------------------

LIFETIME_VALUE_BANDS = ["No Orders", "<$100", "$100-500", "$500-1K", "$1K-5K", ">$5K"]
SPEND_SEGMENTS = ["VIP", "High", "Medium", "Low", "No Orders"]
ORDER_FREQUENCY_BANDS = ["0", "1", "2-3", "4-5", "6-10", "10+"]


def customers_by(column: str, selected: list[str], order: list[str]) -> pd.DataFrame:
    frame = query(
        f"""
        select {column} as band, count(*) as customers from customer_lifetime_value
        where customer_segment in ({_in(selected)}) group by 1
        """,
        tuple(selected),
    )
    counts = dict(zip(frame.band, frame.customers, strict=True))
    return pd.DataFrame({"band": order, "customers": [int(counts.get(b, 0)) for b in order]})


def revenue_by_segment_at_order_time(selected: list[str], start: date, end: date) -> pd.DataFrame:
    """Revenue, orders and average order value per customer segment as it was when each order
    was placed (segment_daily: the SCD2 customer version valid at order time)."""
    frame = query(
        f"""
        select customer_segment, sum(revenue_orders) as orders, sum(revenue) as revenue,
               {money_ratio("sum(revenue)", "sum(revenue_orders)")} as average_order_value
        from segment_daily
        where customer_segment in ({_in(selected)}) and order_date between ? and ?
        group by customer_segment having sum(revenue_orders) > 0
        """,
        (*selected, start, end),
    )
    order = {segment: rank for rank, segment in enumerate(CUSTOMER_SEGMENTS)}
    return frame.sort_values("customer_segment", key=lambda s: s.map(order)).reset_index(drop=True)


CUSTOMER_SEGMENTS = ["bronze", "silver", "gold", "platinum", "unknown"]


def customers_by_tier(selected: list[str]) -> pd.DataFrame:
    """Customers per tier as they are now (the current customer version, so as of the data's
    last day), with their lifetime revenue; lowest tier first."""
    frame = query(
        f"""
        select customer_segment, count(*) as customers, sum(lifetime_value) as revenue
        from customer_lifetime_value
        where customer_segment in ({_in(selected)})
        group by customer_segment
        """,
        tuple(selected),
    )
    order = {segment: rank for rank, segment in enumerate(CUSTOMER_SEGMENTS)}
    return frame.sort_values("customer_segment", key=lambda s: s.map(order)).reset_index(drop=True)


def win_back(selected: list[str]) -> pd.DataFrame:
    """The customers worth winning back (customer_lifetime_value.is_win_back), the most
    valuable year first."""
    return query(
        f"""
        select customer_name, email, customer_segment, total_orders, last_order_date,
            days_since_last_order, average_days_between_orders, yearly_revenue
        from customer_lifetime_value
        where is_win_back and customer_segment in ({_in(selected)})
        order by yearly_revenue desc, customer_id
        """,
        tuple(selected),
    )


def top_customers(selected: list[str], limit: int = 20) -> pd.DataFrame:
    return query(
        f"""
        select customer_name, email, total_orders, lifetime_value
        from customer_lifetime_value
        where customer_segment in ({_in(selected)})
        order by lifetime_value desc, customer_id limit ?
        """,
        (*selected, limit),
    )


# --- funnel ---------------------------------------------------------------------------------


def event_types(selected: list[str], start: date, end: date) -> pd.DataFrame:
    row = query(
        f"""
        select sum(page_views), sum(searches), sum(cart_adds), sum(cart_removals), sum(purchases)
        from funnel_daily
        where device_type in ({_in(selected)}) and session_date between ? and ?
        """,
        (*selected, start, end),
    ).iloc[0]
    names = ["page_view", "search", "add_to_cart", "remove_from_cart", "purchase"]
    return pd.DataFrame({"event_type": names, "events": [int(v or 0) for v in row]})


FUNNEL_STEPS = {
    "viewed_sessions": "Viewed a product",
    "cart_sessions": "Added to cart",
    "purchase_sessions": "Purchased",
}


# Step and overall conversion from the summed step counts: ratios of sums, never means of
# daily rates.
CONVERSION = """
        sum(cart_sessions) / nullif(sum(viewed_sessions), 0) as view_to_cart_rate,
        sum(purchase_sessions) / nullif(sum(cart_sessions), 0) as cart_to_purchase_rate,
        sum(purchase_sessions) / nullif(sum(sessions), 0) as session_conversion_rate"""


def funnel_by_device(selected: list[str], start: date, end: date) -> pd.DataFrame:
    """Sessions reaching each funnel step, per device and for all chosen devices (the last
    row, device "All chosen"), with step and overall conversion."""
    return query(
        f"""
        select coalesce(device_type, 'All chosen') as device_type, sum(sessions) as sessions,
            sum(viewed_sessions) as viewed_sessions, sum(cart_sessions) as cart_sessions,
            sum(purchase_sessions) as purchase_sessions, {CONVERSION}
        from funnel_daily
        where device_type in ({_in(selected)}) and session_date between ? and ?
        group by rollup (device_type)
        having sum(sessions) > 0
        order by device_type is null, sum(sessions) desc
        """,
        (*selected, start, end),
    )


def conversion_over_time(selected: list[str], start: date, end: date) -> pd.DataFrame:
    """Step and overall conversion per day, or per week (from Monday) when the range is
    longer than 92 days: a few sessions a day make daily rates of a long range noise."""
    grain = "day" if (end - start).days < 92 else "week"
    return query(
        f"""
        select date_trunc('{grain}', session_date)::date as period, {CONVERSION}
        from funnel_daily
        where device_type in ({_in(selected)}) and session_date between ? and ?
        group by 1 order by 1
        """,
        (*selected, start, end),
    )


def device_performance(selected: list[str], start: date, end: date) -> pd.DataFrame:
    return query(
        f"""
        select device_type, sum(events) as events, sum(sessions) as sessions,
               sum(page_views) as views, sum(cart_adds) as carts, sum(purchases) as purchases
        from funnel_daily
        where device_type in ({_in(selected)}) and session_date between ? and ?
        group by device_type order by sessions desc
        """,
        (*selected, start, end),
    )


def hourly_activity(selected: list[str], start: date, end: date) -> pd.DataFrame:
    return query(
        f"""
        select event_hour, sum(events) as events, sum(sessions) as sessions
        from funnel_hourly
        where device_type in ({_in(selected)}) and event_date between ? and ?
        group by event_hour order by event_hour
        """,
        (*selected, start, end),
    )


def daily_events(selected: list[str], as_of: date) -> pd.DataFrame:
    return query(
        f"""
        select session_date, sum(events) as events, sum(sessions) as sessions,
               sum(purchase_sessions) as purchases
        from funnel_daily
        where device_type in ({_in(selected)}) and session_date > ?::date - interval 30 day
        group by session_date order by session_date
        """,
        (*selected, as_of),
    )


# --- data health ----------------------------------------------------------------------------


def rows_per_model() -> pd.DataFrame:
    """Rows of every table the published warehouse holds (dimensions, facts, marts)."""
    names = query(
        "select table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'main' order by table_name"
    ).table_name
    union = " union all ".join(
        f"select '{name}' as model, count(*) as rows from main.\"{name}\"" for name in names
    )
    return query(union) if len(names) else pd.DataFrame({"model": [], "rows": []})


def pipeline_runs() -> pd.DataFrame:
    """Every recorded pipeline run, newest first (ops.runs, written by the runs' state hooks):
    the gate's verdict as passed or failed (— for a run that did not reach it), its one-line
    summary beside."""
    return query(
        """
        select state, started_at, finished_at,
            window_start || ' → ' || window_end as window, window_start, window_end, rows_landed,
            quarantined,
            case when gate_passed then 'passed' when not gate_passed then 'failed' end as gate,
            case when published is not null and published <> '' then 'yes' else 'no' end
                as published,
            late_data, reason, flow, run_name, parameters, gate as gate_summary
        from ops.runs order by started_at desc
        """
    )


def gate_checks() -> pd.DataFrame:
    """The checks of the last build put through the gate (passed or not)."""
    return query(
        """select contract, "column", "check", outcome, value, threshold, level
        from ops.gate_checks
        order by case outcome when 'FAILED' then 0 when 'PASSED' then 2 else 1 end,
            contract, "column" nulls first, "check"
        """
    )


def gate_summary() -> pd.DataFrame:
    return query("select build_id, passed, errors, lake from ops.gate")


def source_freshness() -> pd.DataFrame:
    """Per source entity: data age and load age as the last run measured them (flows/freshness)."""
    return query(
        """
        select source, status, newest_day, data_age_days, last_loaded_at, load_age_hours, note
        from ops.freshness order by status = 'pass', source
        """
    )


def ingestion() -> pd.DataFrame:
    """Per source: the last ingestion, its window, watermark and what it landed."""
    return query(
        """
        select source, last_ingested_at, window_start || ' → ' || window_end as window,
            watermark, records_read, landed, quarantined
        from ops.ingestion order by source
        """
    )
