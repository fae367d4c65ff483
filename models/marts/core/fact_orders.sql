{{ config(materialized=keyed_materialization(), unique_key='order_item_id') }}

{#- On an incremental run, only orders whose header or a line changed since fact_since() (the
    newest change in the fact less a lookback, or the first lake partition written since the
    last build) are rebuilt; those partitions alone are read. -#}
with

{% if fact_since() is not none -%}
changed_orders as (

    select cast(order_id as bigint) as order_id
    from {{ source('shop', 'orders') }}
    where {{ partition_since(fact_since()) }}
    union
    select cast(order_id as bigint) as order_id
    from {{ source('shop', 'order_items') }}
    where {{ partition_since(fact_since()) }}

),

{% endif -%}

order_items as (

    select * from {{ ref('stg_shop__order_items') }}
    {% if fact_since() is not none -%}
    where order_id in (select order_id from changed_orders)
    {%- endif %}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {% if fact_since() is not none -%}
    where order_id in (select order_id from changed_orders)
    {%- endif %}

),

dim_customers as (

    select * from {{ ref('dim_customers') }}

),

dim_products as (

    select * from {{ ref('dim_products') }}

),

lines as (

    select
        order_items.order_item_id,
        order_items.order_id,
        orders.customer_id,
        order_items.product_id,
        -- a line whose header was quarantined keeps its own timestamp and an 'unknown' status
        coalesce(orders.order_at, order_items.updated_at) as order_at,
        {{ utc_date('coalesce(orders.order_at, order_items.updated_at)') }} as order_date,
        coalesce(orders.order_status, 'unknown') as order_status,
        coalesce(orders.payment_method, 'unknown') as payment_method,
        coalesce(orders.updated_at, order_items.updated_at) as order_updated_at,
        order_items.quantity,
        order_items.unit_price,
        cast(order_items.quantity * order_items.unit_price as decimal(18, 2)) as gross_amount,
        order_items.discount_amount

    from order_items
    left join orders
        on order_items.order_id = orders.order_id

),

final as (

    select
        lines.order_item_id,
        lines.order_id,
        -- point in time: the customer version valid when the order was placed
        coalesce(dim_customers.customer_sk, '-1') as customer_sk,
        coalesce(dim_products.product_sk, '-1') as product_sk,
        {{ date_key('lines.order_date') }} as date_key,
        lines.customer_id,
        lines.product_id,
        lines.order_at,
        lines.order_date,
        lines.order_status,
        lines.payment_method,
        lines.quantity,
        lines.unit_price,
        lines.gross_amount,
        lines.discount_amount,
        cast(lines.gross_amount - lines.discount_amount as decimal(18, 2)) as net_amount,
        lines.order_status not in {{ revenue_statuses_excluded() }} as is_revenue,
        lines.order_updated_at

    from lines
    -- every condition a comparison (no "or valid_to is null"): an OR in a left join's
    -- condition made DuckDB loop over every pair of line and customer version (157 s of
    -- SF100's build); this hash-joins on customer_id (0.5 s)
    left join dim_customers
        on lines.customer_id = dim_customers.customer_id
        and lines.order_at >= dim_customers.valid_from
        and lines.order_at < coalesce(dim_customers.valid_to, {{ utc_timestamp("'9999-12-31'") }})
    left join dim_products
        on lines.product_id = dim_products.product_id

)

select * from final
