{#- One row per product: sales, rating and how fast it moves (as of the data's last day). -#}
with

dim_products as (

    select * from {{ ref('dim_products') }}

),

fact_orders as (

    select * from {{ ref('fact_orders') }}

),

as_of as (

    select as_of_date from {{ ref('data_as_of') }}

),

sales as (

    select
        fact_orders.product_id,
        count(distinct fact_orders.order_id) as orders,
        sum(fact_orders.quantity)::bigint as units,
        sum(fact_orders.net_amount)::decimal(18, 2) as revenue,
        sum(fact_orders.quantity) filter (
            where fact_orders.order_date > as_of.as_of_date - interval 90 day
        )::bigint as units_last_90_days

    from fact_orders
    cross join as_of
    where {{ only_revenue('fact_orders') }}
    group by fact_orders.product_id

),

final as (

    select
        dim_products.product_id,
        dim_products.product_name,
        dim_products.category,
        dim_products.price,
        dim_products.price_tier,
        dim_products.rating_rate,
        dim_products.rating_count,
        dim_products.rating_category,
        dim_products.stock_quantity,
        coalesce(sales.orders, 0) as orders,
        coalesce(sales.units, 0) as units,
        coalesce(sales.revenue, 0) as revenue,
        {{ divide_money('sales.revenue', 'sales.units') }} as average_item_value,
        coalesce(sales.units_last_90_days, 0) as units_last_90_days,
        -- slow movers: units sold in the last 90 days
        case
            when coalesce(sales.units_last_90_days, 0) = 0 then 'No Sales'
            when sales.units_last_90_days <= 2 then 'Critical'
            when sales.units_last_90_days <= 9 then 'Slow'
            else 'Normal'
        end as inventory_status

    from dim_products
    left join sales
        on dim_products.product_id = sales.product_id
    where dim_products.product_id > 0

)

select * from final
