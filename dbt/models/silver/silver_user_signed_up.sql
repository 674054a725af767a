{#- identity.UserSignedUp, one row per event: deduplicated (latest delivery wins), PII masked (this
    contract masks at Bronze, so e-mail arrives hashed and is not hashed again). Incremental like
    silver_checkout_completed. -#}
{{ config(alias='identity__user_signed_up', unique_key='event_id') }}

with bronze as (
    select
        {{ bronze_columns_masked('identity__user_signed_up') }}
    from {{ source('bronze', 'identity__user_signed_up') }}
    {% if is_incremental() %}
    where _ingested_at > (
        select coalesce(max(ingested_at), '-infinity'::timestamptz)
            - to_hours({{ var('silver_lookback_hours', 24) }})
        from {{ this }}
    )
    {% endif %}
),

latest as (
    select *
    from bronze
    qualify row_number() over (partition by event_id order by _ingested_at desc, _batch_id desc) = 1
),

newer as (
    select latest.*
    from latest
    {% if is_incremental() %}
    -- the lookback re-reads deliveries Silver already holds: keep only those newer than Silver's
    where not exists (
        select 1
        from {{ this }} as current
        where current.event_id = latest.event_id
            and (current.ingested_at > latest._ingested_at
                or (current.ingested_at = latest._ingested_at and current.batch_id >= latest._batch_id))
    )
    {% endif %}
)

select
    cast(event_id as varchar) as event_id,
    cast(user_id as varchar) as user_id,
    cast(email as varchar) as email_hash,
    cast(country as varchar) as country,
    cast(plan as varchar) as plan,
    cast(signed_up_at as timestamptz) as signed_up_at,
    cast(signed_up_at as date) as signup_date,
    cast(_batch_id as varchar) as batch_id,
    cast(_ingested_at as timestamptz) as ingested_at,
    cast(_schema_version as integer) as schema_version
from newer
