{#- One row: the Executive dashboard's headline numbers as of the data's last day. -#}
with

fact_orders as (

    select * from {{ ref('fact_orders') }}

),

as_of as (

    select as_of_date from {{ ref('data_as_of') }}

),

last_month as (

    select
        as_of_date,
        case
            when as_of_date = last_day(as_of_date) then {{ month_start('as_of_date') }}
            else {{ month_start('as_of_date') }} - interval 1 month
        end::date as last_month_start

    from as_of

),

totals as (

    select
        sum(net_amount) {{ for_revenue() }}::decimal(18, 2) as total_revenue,
        count(distinct order_id) as total_orders,
        count(distinct order_id) {{ for_revenue() }} as revenue_orders,
        sum(net_amount) filter (
            where {{ only_revenue() }}
            and order_date >= last_month.last_month_start
            and order_date < last_month.last_month_start + interval 1 month
        )::decimal(18, 2) as revenue_last_month,
        sum(net_amount) filter (
            where {{ only_revenue() }}
            and order_date >= last_month.last_month_start - interval 1 month
            and order_date < last_month.last_month_start
        )::decimal(18, 2) as revenue_previous_month

    from fact_orders
    cross join last_month

),

final as (

    select
        last_month.as_of_date,
        last_month.last_month_start,
        coalesce(totals.total_revenue, 0) as total_revenue,
        coalesce(totals.revenue_last_month, 0) as revenue_last_month,
        coalesce(totals.revenue_previous_month, 0) as revenue_previous_month,
        -- a percentage, not money: the difference is exact (DECIMAL), the ratio DOUBLE,
        -- rounded once here to 2 decimals
        round(
            100.0 * cast(totals.revenue_last_month - totals.revenue_previous_month as double)
            / cast(nullif(totals.revenue_previous_month, 0) as double),
            2
        ) as revenue_mom_change_pct,
        totals.total_orders,
        totals.revenue_orders,
        (
            select max(active_customers_30d) from {{ ref('daily_kpis') }}
            where date_day = last_month.as_of_date
        ) as active_customers_30d,
        {{ divide_money('totals.total_revenue', 'totals.revenue_orders') }} as average_order_value

    from totals
    cross join last_month

)

select * from final
