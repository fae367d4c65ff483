{#- One row per (day, customer segment at order time) with orders: orders, revenue orders,
    revenue. The segment is the one of the customer version valid when the order was placed
    (fact_orders.customer_sk, point in time), not the customer's current one. -#}
with

fact_orders as (

    select * from {{ ref('fact_orders') }}

),

dim_customers as (

    select * from {{ ref('dim_customers') }}

),

final as (

    select
        fact_orders.order_date,
        -- 'unknown' (the unknown member '-1'): a line whose order header is in quarantine
        dim_customers.customer_segment,
        count(distinct fact_orders.order_id) as orders,
        count(distinct fact_orders.order_id) {{ for_revenue('fact_orders') }} as revenue_orders,
        coalesce(
            sum(fact_orders.net_amount) {{ for_revenue('fact_orders') }}, 0
        )::decimal(18, 2) as revenue

    from fact_orders
    inner join dim_customers
        on fact_orders.customer_sk = dim_customers.customer_sk
    group by 1, 2

)

select * from final
