-- Every customer has exactly one current version.
select customer_id, count(*) filter (where is_current) as current_versions
from {{ ref('dim_customers') }}
where customer_id > 0
group by customer_id
having count(*) filter (where is_current) <> 1
