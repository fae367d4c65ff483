{{ config(materialized=keyed_materialization(), unique_key='event_date') }}

{#- One row per (day, hour of day, device): events and sessions active in that hour. An
    incremental build recomputes the days from lake_since on, every hour and device of each:
    events never change once landed and a late one lands in its own day, which moves lake_since
    back; a session's device is one for all its events. -#}
with

events as (

    select * from {{ ref('fact_events') }}
    {% if lake_since() is not none -%}
    where event_date >= date '{{ lake_since() }}'
    {%- endif %}

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
