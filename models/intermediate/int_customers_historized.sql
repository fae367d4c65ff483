{#- A table on both engines: dim_customers and four data tests read it, and a view would read
    the whole customer history from the lake for each of them. -#}
{{ config(materialized="table") }}

{#- Every distinct version of every customer, from the change history kept in the lake. -#}
with

source as (

    select * from {{ source('shop', 'customers') }}

),

versions as (

    select distinct
        cast(customer_id as bigint) as customer_id,
        first_name,
        last_name,
        email,
        city,
        country,
        segment as customer_segment,
        {{ utc_timestamp('created_at') }} as created_at,
        {{ utc_timestamp('updated_at') }} as updated_at

    from source

),

final as (

    select * from versions
    {{ latest_version('customer_id, updated_at', 'email') }}

)

select * from final
