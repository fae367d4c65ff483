{#- One row per (day, category) with revenue lines: orders, units, revenue. -#}
with

fact_orders as (

    select * from {{ ref('fact_orders') }}

),

dim_products as (

    select * from {{ ref('dim_products') }}

),

final as (

    select
        fact_orders.order_date,
        dim_products.category,
        count(distinct fact_orders.order_id) as orders,
        sum(fact_orders.quantity)::bigint as units,
        sum(fact_orders.net_amount)::decimal(18, 2) as revenue

    from fact_orders
    inner join dim_products
        on fact_orders.product_sk = dim_products.product_sk
    where {{ only_revenue('fact_orders') }}
    group by 1, 2

)

select * from final
