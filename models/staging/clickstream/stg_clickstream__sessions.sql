{#- Sessions as the clickstream reports them: one row per session_id. -#}
with

events as (

    select * from {{ ref('stg_clickstream__events') }}

),

final as (

    select
        session_id,
        max(customer_id) as customer_id,
        max(customer_id) is null as is_anonymous,
        any_value(device_type) as device_type,
        any_value(browser) as browser,
        min(event_at) as started_at,
        {{ utc_date('min(event_at)') }} as session_date,
        max(event_at) as ended_at,
        count(*) as events,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'search') as searches,
        count(*) filter (where event_type = 'add_to_cart') as cart_adds,
        count(*) filter (where event_type = 'remove_from_cart') as cart_removals,
        count(*) filter (where event_type = 'purchase') as purchases,
        max(order_id) as order_id

    from events
    group by session_id

)

select * from final
