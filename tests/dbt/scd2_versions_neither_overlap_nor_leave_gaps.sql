-- Each version ends exactly where the next one starts: no overlap, no gap.
with versions as (
    select
        customer_id,
        valid_from,
        valid_to,
        lead(valid_from) over (partition by customer_id order by valid_from) as next_valid_from
    from {{ ref('dim_customers') }}
    where customer_id > 0
)
select *
from versions
where (next_valid_from is null and valid_to is not null)
   or (next_valid_from is not null and valid_to is distinct from next_valid_from)
