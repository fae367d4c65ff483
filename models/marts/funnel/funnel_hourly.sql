{#- One row per (day, hour of day, device): events and sessions active in that hour. -#}
with

events as (

    select * from {{ ref('fact_events') }}

),

sessions as (

    select session_id, device_type from {{ ref('stg_clickstream__sessions') }}

),

final as (

    select
        events.event_date,
        events.event_hour,
        sessions.device_type,
        count(*) as events,
        count(distinct events.session_id) as sessions

    from events
    inner join sessions
        on events.session_id = sessions.session_id
    group by 1, 2, 3

)

select * from final
