{#- checkout.CheckoutCompleted, one row per event: deduplicated (latest delivery wins), PII masked,
    named for analysts. Incremental on the gate's _ingested_at: a rerun reads only new batches, and
    delete+insert on event_id replaces an event delivered again rather than adding it twice. -#}
{{ config(alias='checkout__checkout_completed', unique_key='event_id') }}

with bronze as (
    select
        {{ bronze_columns_masked('checkout__checkout_completed') }}
    from {{ source('bronze', 'checkout__checkout_completed') }}
    {% if is_incremental() %}
    where _ingested_at > (select coalesce(max(ingested_at), '-infinity'::timestamptz) from {{ this }})
    {% endif %}
),

latest as (
    select *
    from bronze
    qualify row_number() over (partition by event_id order by _ingested_at desc, _batch_id desc) = 1
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
from latest
