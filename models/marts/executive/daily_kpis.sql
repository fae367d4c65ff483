{#- One row per calendar day of the data (data_as_of's first day to its last): revenue, orders,
    AOV, active customers. A day without orders is a row of zeros, never a gap. -#}
with

fact_orders as (

    select * from {{ ref('fact_orders') }}

),

dim_date as (

    select * from {{ ref('dim_date') }}

),

bounds as (

    select first_day, as_of_date as last_day from {{ ref('data_as_of') }}

),

orders_per_day as (

    select
        order_date,
        count(distinct order_id) as orders,
        count(distinct order_id) {{ for_revenue() }} as revenue_orders,
        sum(quantity) {{ for_revenue() }}::bigint as units,
        sum(gross_amount) {{ for_revenue() }}::decimal(18, 2) as gross_revenue,
        sum(discount_amount) {{ for_revenue() }}::decimal(18, 2) as discounts,
        sum(net_amount) {{ for_revenue() }}::decimal(18, 2) as net_revenue,
        sum(net_amount)::decimal(18, 2) as net_amount_all_statuses

    from fact_orders
    group by order_date

),

customer_days as (

    select distinct order_date, customer_id from fact_orders

),

active_customers as (

    select
        dim_date.date_day,
        count(distinct customer_days.customer_id) as active_customers_30d

    from dim_date
    cross join bounds
    inner join customer_days
        on customer_days.order_date > dim_date.date_day - interval 30 day
        and customer_days.order_date <= dim_date.date_day
    where dim_date.date_day between bounds.first_day and bounds.last_day
    group by dim_date.date_day

),

final as (

    select
        dim_date.date_day,
        dim_date.date_key,
        coalesce(orders_per_day.orders, 0) as orders,
        coalesce(orders_per_day.revenue_orders, 0) as revenue_orders,
        coalesce(orders_per_day.units, 0) as units,
        coalesce(orders_per_day.gross_revenue, 0) as gross_revenue,
        coalesce(orders_per_day.discounts, 0) as discounts,
        coalesce(orders_per_day.net_revenue, 0) as revenue,
        coalesce(orders_per_day.net_amount_all_statuses, 0) as net_amount_all_statuses,
        {{ divide_money('orders_per_day.net_revenue', 'orders_per_day.revenue_orders') }}
            as average_order_value,
        coalesce(active_customers.active_customers_30d, 0) as active_customers_30d

    from dim_date
    cross join bounds
    left join orders_per_day
        on dim_date.date_day = orders_per_day.order_date
    left join active_customers
        on dim_date.date_day = active_customers.date_day
    where dim_date.date_day between bounds.first_day and bounds.last_day

)

select * from final
