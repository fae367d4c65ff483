{{ config(materialized='incremental', unique_key='event_id', **append_only_by_day('event_date')) }}

{#- Clickstream at event grain, with the keys the funnel reads. An incremental build takes the
    events of the days from lake_since on (late events land in their own, older day, which
    moves lake_since back); events never change once landed. -#}
with

events as (

    select * from {{ ref('stg_clickstream__events') }}
    {% if lake_since() is not none -%}
    where event_date >= date '{{ lake_since() }}'
    {%- endif %}

),

final as (

    select
        event_id,
        session_id,
        customer_id,
        product_id,
        order_id,
        event_type,
        event_at,
        event_date,
        {{ date_key('event_date') }} as date_key,
        {{ utc_hour('event_at') }} as event_hour,
        device_type,
        browser,
        received_at

    from events

)

select * from final
