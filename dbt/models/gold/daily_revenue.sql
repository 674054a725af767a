{#- Revenue per UTC day and currency (amounts are never summed across currencies). -#}
select
    completed_date as revenue_date,
    currency,
    count(*) as orders,
    sum(amount) as revenue
from {{ ref('silver_checkout_completed') }}
group by completed_date, currency
order by revenue_date, currency
