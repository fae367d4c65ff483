{#- One row per calendar month with orders: revenue and orders (the 12-month trend). -#}
with

daily_kpis as (

    select * from {{ ref('daily_kpis') }}

),

final as (

    select
        {{ month_start('date_day') }} as month_start,
        sum(revenue)::decimal(18, 2) as revenue,
        sum(orders)::bigint as orders,
        sum(revenue_orders)::bigint as revenue_orders

    from daily_kpis
    group by 1

)

select * from final
