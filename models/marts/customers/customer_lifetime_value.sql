{#- One row per customer (current version): lifetime value and the original's segments. -#}
with

dim_customers as (

    select * from {{ ref('dim_customers') }}

),

fact_orders as (

    select * from {{ ref('fact_orders') }}

),

as_of as (

    select as_of_date from {{ ref('data_as_of') }}

),

per_customer as (

    select
        customer_id,
        count(distinct order_id) {{ for_revenue() }} as total_orders,
        sum(net_amount) {{ for_revenue() }}::decimal(18, 2) as lifetime_value,
        min(order_date) {{ for_revenue() }} as first_order_date,
        max(order_date) {{ for_revenue() }} as last_order_date

    from fact_orders
    group by customer_id

),

measured as (

    select
        dim_customers.customer_id,
        dim_customers.customer_name,
        dim_customers.email,
        dim_customers.customer_segment,
        dim_customers.created_at,
        coalesce(per_customer.total_orders, 0) as total_orders,
        coalesce(per_customer.lifetime_value, 0) as lifetime_value,
        per_customer.first_order_date,
        per_customer.last_order_date,
        {{ days_between('per_customer.last_order_date', 'as_of.as_of_date') }} as days_since_last_order

    from dim_customers
    cross join as_of
    left join per_customer
        on dim_customers.customer_id = per_customer.customer_id
    where dim_customers.is_current and dim_customers.customer_id > 0

),

{%- set order_span = days_between('first_order_date', 'last_order_date') %}

final as (

    select
        *,
        {{ divide_money('lifetime_value', 'total_orders') }} as average_order_value,
        case
            when total_orders >= 2
                then round({{ order_span }} / (total_orders - 1), 1)
        end as average_days_between_orders,
        {#- lifetime value over the years since the first order: what a year of the customer
            is worth, so what winning them back would bring -#}
        {{ divide_money('lifetime_value * 365', 'days_since_last_order + ' ~ order_span) }}
            as yearly_revenue,
        {#- lapsed relative to their own rhythm: silent for more than N times their average
            gap between orders, and for at least the minimum days (docs/metrics.md); in whole
            days, so both engines agree exactly -#}
        coalesce(
            total_orders >= 2
            and days_since_last_order >= {{ var('win_back_min_days') }}
            and days_since_last_order * (total_orders - 1)
                > {{ var('win_back_gap_multiple') }} * {{ order_span }},
            false
        ) as is_win_back,
        {{ value_segment('total_orders', 'lifetime_value') }} as value_segment,
        {{ recency_segment('days_since_last_order') }} as recency_segment,
        {{ frequency_segment('total_orders') }} as frequency_segment,
        case
            when total_orders = 0 then 'No Orders'
            when lifetime_value < 100 then '<$100'
            when lifetime_value < 500 then '$100-500'
            when lifetime_value < 1000 then '$500-1K'
            when lifetime_value < 5000 then '$1K-5K'
            else '>$5K'
        end as lifetime_value_band,
        case
            when total_orders = 0 then 'No Orders'
            when lifetime_value >= 5000 then 'VIP'
            when lifetime_value >= 1000 then 'High'
            when lifetime_value >= 500 then 'Medium'
            else 'Low'
        end as spend_segment,
        case
            when total_orders = 0 then '0'
            when total_orders = 1 then '1'
            when total_orders <= 3 then '2-3'
            when total_orders <= 5 then '4-5'
            when total_orders <= 10 then '6-10'
            else '10+'
        end as order_frequency_band

    from measured

)

select * from final
