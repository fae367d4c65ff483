-- Every cent: Σ net amount of the latest raw version of each line = Σ in the fact = Σ in
-- daily_kpis (all statuses), and revenue agrees between the fact and daily_kpis.
with raw_latest as (
    select quantity * unit_price - discount_amount as net_amount
    from {{ source('shop', 'order_items') }}
    qualify row_number() over (partition by order_item_id order by updated_at desc) = 1
),
totals as (
    select
        (select sum(net_amount) from raw_latest) as raw_net,
        (select sum(net_amount) from {{ ref('fact_orders') }}) as fact_net,
        (select sum(net_amount_all_statuses) from {{ ref('daily_kpis') }}) as kpi_net,
        (select sum(net_amount) filter (where is_revenue) from {{ ref('fact_orders') }}) as fact_revenue,
        (select sum(revenue) from {{ ref('daily_kpis') }}) as kpi_revenue,
        (select total_revenue from {{ ref('executive_kpis') }}) as executive_revenue
)
select * from totals
where raw_net <> fact_net
   or fact_net <> kpi_net
   or fact_revenue <> kpi_revenue
   or fact_revenue <> executive_revenue
