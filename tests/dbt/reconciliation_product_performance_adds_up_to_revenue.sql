-- Product revenue adds up to the fact's revenue (lines of unknown products excepted).
select *
from (
    select
        (select sum(revenue) from {{ ref('product_performance') }}) as product_revenue,
        (
            select sum(net_amount) from {{ ref('fact_orders') }}
            where is_revenue and product_sk <> '-1'
        ) as fact_revenue
)
where product_revenue <> fact_revenue
