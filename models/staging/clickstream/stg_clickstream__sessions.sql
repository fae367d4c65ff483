{{ config(materialized=keyed_materialization(), unique_key='session_id') }}

{#- Sessions as the clickstream reports them: one row per session_id. An incremental build
    recomputes, from all their events, the sessions with an event on a day from lake_since on:
    a session may span midnight, and a late event lands in its own older day, which moves
    lake_since back. A session never loses an event, so no key ever has to be removed. -#}
with

events as (

    select * from {{ ref('stg_clickstream__events') }}
    {% if lake_since() is not none -%}
    where session_id in (
        select session_id from {{ ref('stg_clickstream__events') }}
        where event_date >= date '{{ lake_since() }}'
    )
    {%- endif %}

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
