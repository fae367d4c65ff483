{{ config(materialized=keyed_materialization(), unique_key='order_id') }}

{#- Latest version per order_id. An incremental build reads only the lake partitions written since
    the last build (lake_since(), from the pipeline) and picks the latest version of each key it touches among
    those rows and the one already here, so a late, older version never replaces a newer. -#}
with

source as (

    {{ changed_partitions(source('shop', 'orders')) }}

),

renamed as (

    select
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        {{ utc_timestamp('order_at') }} as order_at,
        {{ utc_date('order_at') }} as order_date,
        status as order_status,
        payment_method,
        cast(total_amount as decimal(18, 2)) as total_amount,
        {{ utc_timestamp('updated_at') }} as updated_at

    from source

),

{{ latest_versions('renamed', 'order_id', 'updated_at') }}

select * from final
