{%- set fiscal_start = var('fiscal_year_start_month') | int -%}
with

order_dates as (

    select order_date as date_day from {{ ref('stg_shop__orders') }}

),

event_dates as (

    select event_date as date_day from {{ ref('stg_clickstream__events') }}

),

bounds as (

    select
        min(date_day) as first_day,
        max(date_day) + {{ var('date_horizon_days') | int }} as last_day

    from (select * from order_dates union all select * from event_dates) as all_dates

),

spine as (

    select {{ date_spine('first_day', 'last_day') }} as date_day
    from bounds

),

parts as (

    select
        date_day,
        {{ date_part_of('year', 'date_day') }} as calendar_year,
        {{ date_part_of('quarter', 'date_day') }} as calendar_quarter,
        {{ date_part_of('month', 'date_day') }} as calendar_month,
        {{ date_part_of('day', 'date_day') }} as day_of_month,
        {{ date_part_of('iso_day_of_week', 'date_day') }} as iso_day_of_week,
        {{ date_part_of('iso_year', 'date_day') }} as iso_year,
        {{ date_part_of('iso_week', 'date_day') }} as iso_week,
        {{ day_name('date_day') }} as day_name,
        {{ month_name('date_day') }} as month_name

    from spine

),

final as (

    select
        date_day,
        {{ date_key('date_day') }} as date_key,
        calendar_year,
        calendar_quarter,
        calendar_month,
        month_name,
        day_of_month,
        iso_day_of_week,
        day_name,
        iso_year,
        iso_week,
        iso_day_of_week in (6, 7) as is_weekend,
        calendar_year
        + case when {{ fiscal_start }} > 1 and calendar_month >= {{ fiscal_start }} then 1 else 0 end
            as fiscal_year,
        (calendar_month - {{ fiscal_start }} + 12) % 12 + 1 as fiscal_period,
        {{ int_div('(calendar_month - ' ~ fiscal_start ~ ' + 12) % 12', 3) }} + 1 as fiscal_quarter,
        (calendar_month = 1 and day_of_month = 1)
        or (calendar_month = 1 and iso_day_of_week = 1 and day_of_month between 15 and 21)
        or (calendar_month = 2 and iso_day_of_week = 1 and day_of_month between 15 and 21)
        or (calendar_month = 5 and iso_day_of_week = 1 and day_of_month >= 25)
        or (calendar_month = 6 and day_of_month = 19)
        or (calendar_month = 7 and day_of_month = 4)
        or (calendar_month = 9 and iso_day_of_week = 1 and day_of_month <= 7)
        or (calendar_month = 10 and iso_day_of_week = 1 and day_of_month between 8 and 14)
        or (calendar_month = 11 and day_of_month = 11)
        or (calendar_month = 11 and iso_day_of_week = 4 and day_of_month between 22 and 28)
        or (calendar_month = 12 and day_of_month = 25)
            as is_us_holiday

    from parts

)

select * from final
