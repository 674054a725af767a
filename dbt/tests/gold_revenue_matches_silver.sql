-- Gold revenue must account for every Silver order exactly once: per currency, the orders and the
-- amounts of daily_revenue add up to those of silver_checkout_completed.
with gold as (
    select currency, sum(orders) as orders, sum(revenue) as revenue
    from {{ ref('daily_revenue') }}
    group by currency
),

silver as (
    select currency, count(*) as orders, sum(amount) as revenue
    from {{ ref('silver_checkout_completed') }}
    group by currency
)

select coalesce(g.currency, s.currency) as currency, g.orders, s.orders, g.revenue, s.revenue
from gold as g
full outer join silver as s on g.currency = s.currency
where g.orders is distinct from s.orders or abs(g.revenue - s.revenue) > 1e-6 * greatest(1, abs(s.revenue))
