-- Zero lines lost: the distinct order lines of the raw zone are exactly the fact's.
with raw_lines as (
    select distinct cast(order_item_id as bigint) as order_item_id
    from {{ source('shop', 'order_items') }}
),
fact_lines as (
    select order_item_id from {{ ref('fact_orders') }}
)
select 'missing from fact' as problem, order_item_id from raw_lines
where order_item_id not in (select order_item_id from fact_lines)
union all
select 'not in raw' as problem, order_item_id from fact_lines
where order_item_id not in (select order_item_id from raw_lines)
