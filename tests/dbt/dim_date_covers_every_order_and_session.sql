-- dim_date is a continuous spine covering every day with data.
with spine as (
    select min(date_day) as first_day, max(date_day) as last_day, count(*) as days
    from {{ ref('dim_date') }}
)
select * from spine
where days <> {{ days_between('first_day', 'last_day') }} + 1
   or first_day > (select min(order_date) from {{ ref('fact_orders') }})
   or last_day < (select max(session_date) from {{ ref('stg_clickstream__sessions') }})
