{{ config(materialized=keyed_materialization(), unique_key='product_id') }}

{#- Latest version per product_id. An incremental build reads only the lake partitions written since
    the last build (lake_since(), from the pipeline) and picks the latest version of each key it touches among
    those rows and the one already here, so a late, older version never replaces a newer. -#}
with

source as (

    {{ changed_partitions(source('catalog', 'products')) }}

),

renamed as (

    select
        cast(product_id as bigint) as product_id,
        title as product_name,
        description as product_description,
        category,
        cast(price as decimal(18, 2)) as price,
        cast(rating_rate as decimal(3, 1)) as rating_rate,
        cast(rating_count as integer) as rating_count,
        cast(stock_quantity as integer) as stock_quantity,
        image_url,
        {{ utc_timestamp('updated_at') }} as updated_at,
        cast(snapshot_date as date) as snapshot_date

    from source

),

{{ latest_versions('renamed', 'product_id', 'snapshot_date') }}

select * from final
