-- The funnel counts every session once: its sessions add up to the distinct sessions seen.
select *
from (
    select
        (select sum(sessions) from {{ ref('funnel_daily') }}) as funnel_sessions,
        (select count(distinct session_id) from {{ ref('stg_clickstream__events') }}) as sessions
)
where funnel_sessions <> sessions
