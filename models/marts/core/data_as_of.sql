{#- One row: the data's first and last day, the one definition of "as of" for every mart and
    page. The last day is the later of the last order day and the last event day: a day with
    clicks but no orders is still a day the data covers. -#}
with

fact_orders as (

    select * from {{ ref('fact_orders') }}

),

fact_events as (

    select * from {{ ref('fact_events') }}

),

bounds as (

    select
        least(
            (select min(order_date) from fact_orders),
            (select min(event_date) from fact_events)
        ) as first_day,
        greatest(
            (select max(order_date) from fact_orders),
            (select max(event_date) from fact_events)
        ) as as_of_date

),

final as (

    select first_day, as_of_date from bounds

)

select * from final
