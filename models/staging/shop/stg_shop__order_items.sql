{{ config(materialized=keyed_materialization(), unique_key='order_item_id') }}

{#- Latest version per order_item_id. An incremental build reads only the lake partitions written since
    the last build (lake_since(), from the pipeline) and picks the latest version of each key it touches among
    those rows and the one already here, so a late, older version never replaces a newer. -#}
with

source as (

    {{ changed_partitions(source('shop', 'order_items')) }}

),

renamed as (

    select
        cast(order_item_id as bigint) as order_item_id,
        cast(order_id as bigint) as order_id,
        cast(product_id as bigint) as product_id,
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(18, 2)) as unit_price,
        cast(discount_amount as decimal(18, 2)) as discount_amount,
        {{ utc_timestamp('updated_at') }} as updated_at

    from source

),

{{ latest_versions('renamed', 'order_item_id', 'updated_at') }}

select * from final
