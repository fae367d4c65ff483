-- Lifetime values of known customers plus revenue of lines without one add up to revenue.
with totals as (
    select
        (select sum(lifetime_value) from {{ ref('customer_lifetime_value') }}) as lifetime_value,
        (
            select coalesce(sum(net_amount), 0) from {{ ref('fact_orders') }}
            where is_revenue and customer_id not in (
                select customer_id from {{ ref('customer_lifetime_value') }}
            )
        ) as unattributed,
        (select sum(net_amount) filter (where is_revenue) from {{ ref('fact_orders') }}) as revenue
)
select * from totals where lifetime_value + unattributed <> revenue
