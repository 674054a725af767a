{#- checkout.CheckoutCompleted, one row per event: the latest delivery of each event_id, PII masked,
    incremental (macros/silver.sql), typed and named for analysts here. -#}
{{ config(alias='checkout__checkout_completed', unique_key='event_id') }}

with deliveries as (
    {{ silver_latest_deliveries('checkout__checkout_completed') }}
)

select
    cast(event_id as varchar) as event_id,
    cast(order_id as varchar) as order_id,
    cast(user_id as varchar) as user_id,
    cast(email as varchar) as email_hash,
    cast(amount as double) as amount,
    cast(currency as varchar) as currency,
    cast(completed_at as timestamptz) as completed_at,
    cast(completed_at as date) as completed_date,
    items,
    cast(_batch_id as varchar) as batch_id,
    cast(_ingested_at as timestamptz) as ingested_at,
    cast(_schema_version as integer) as schema_version
from deliveries
