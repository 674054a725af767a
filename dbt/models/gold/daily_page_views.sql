{#- Page views and distinct sessions per UTC day, page and device, from deduplicated page views. -#}
select
    viewed_date as view_date,
    page_url,
    coalesce(device, 'unknown') as device,
    count(*) as page_views,
    count(distinct session_id) as sessions,
    count(distinct user_id) as signed_in_users
from {{ ref('silver_page_viewed') }}
group by viewed_date, page_url, coalesce(device, 'unknown')
order by view_date, page_url, device
