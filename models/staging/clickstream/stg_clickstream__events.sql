with

source as (

    select * from {{ source('clickstream', 'events') }}

),

renamed as (

    select
        cast(event_id as bigint) as event_id,
        cast(session_id as bigint) as session_id,
        cast(customer_id as bigint) as customer_id,
        event_type,
        cast(event_at as timestamptz) as event_at,
        cast(timezone('UTC', event_at) as date) as event_date,
        cast(product_id as bigint) as product_id,
        cast(order_id as bigint) as order_id,
        device_type,
        browser,
        cast(received_at as timestamptz) as received_at

    from source

),

final as (

    select * from renamed
    {{ latest_version('event_id', 'event_at') }}

)

select * from final
