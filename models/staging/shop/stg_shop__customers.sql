{{ config(materialized=keyed_materialization(), unique_key='customer_id') }}

{#- Latest version per customer_id. An incremental build reads only the lake partitions written since
    the last build (lake_since(), from the pipeline) and picks the latest version of each key it touches among
    those rows and the one already here, so a late, older version never replaces a newer. -#}
with

source as (

    {{ changed_partitions(source('shop', 'customers')) }}

),

renamed as (

    select
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

{{ latest_versions('renamed', 'customer_id', 'updated_at') }}

select * from final
