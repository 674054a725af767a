{#- web.PageViewed, one row per event: the latest delivery of each event_id, PII masked (the
    signed-in user's e-mail, hashed here: the contract masks at Silver), incremental (macros/silver.sql),
    typed and named for analysts here; the page struct is flattened into page_url and page_title. -#}
{{ config(alias='web__page_viewed', unique_key='event_id') }}

with deliveries as (
    {{ silver_latest_deliveries('web__page_viewed') }}
)

select
    cast(event_id as varchar) as event_id,
    cast(viewed_at as timestamptz) as viewed_at,
    cast(viewed_at as date) as viewed_date,
    cast(session_id as varchar) as session_id,
    cast(user_id as varchar) as user_id,
    cast(user_email as varchar) as user_email_hash,
    cast(page.url as varchar) as page_url,
    cast(page.title as varchar) as page_title,
    cast(referrer as varchar) as referrer,
    cast(duration_ms as bigint) as duration_ms,
    cast(device as varchar) as device,
    cast(_batch_id as varchar) as batch_id,
    cast(_ingested_at as timestamptz) as ingested_at,
    cast(_schema_version as integer) as schema_version
from deliveries
