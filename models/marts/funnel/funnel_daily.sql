{#- One row per (day, device): sessions reaching each funnel step, and step conversion. -#}
with

sessions as (

    select * from {{ ref('stg_clickstream__sessions') }}

),

steps as (

    select
        session_date,
        device_type,
        count(*) as sessions,
        count(*) filter (where is_anonymous) as anonymous_sessions,
        sum(events)::bigint as events,
        count(*) filter (where page_views > 0) as viewed_sessions,
        count(*) filter (where searches > 0) as searched_sessions,
        count(*) filter (where cart_adds > 0) as cart_sessions,
        count(*) filter (where purchases > 0) as purchase_sessions,
        sum(page_views)::bigint as page_views,
        sum(searches)::bigint as searches,
        sum(cart_adds)::bigint as cart_adds,
        sum(cart_removals)::bigint as cart_removals,
        sum(purchases)::bigint as purchases

    from sessions
    group by session_date, device_type

),

final as (

    select
        session_date,
        device_type,
        sessions,
        anonymous_sessions,
        events,
        viewed_sessions,
        searched_sessions,
        cart_sessions,
        purchase_sessions,
        page_views,
        searches,
        cart_adds,
        cart_removals,
        purchases,
        -- rates are not money: DOUBLE fractions 0–1, rounded once here to 4 decimals
        round(cart_sessions / nullif(viewed_sessions, 0), 4) as view_to_cart_rate,
        round(purchase_sessions / nullif(cart_sessions, 0), 4) as cart_to_purchase_rate,
        round(purchase_sessions / nullif(sessions, 0), 4) as session_conversion_rate

    from steps

)

select * from final
