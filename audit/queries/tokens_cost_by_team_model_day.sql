-- Tokens and cost by day, team, user and model (from the usage_daily roll-up).
SELECT
    day,
    team,
    model,
    sum(requests) AS requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens,
    input_tokens + output_tokens AS tokens,
    round(sum(cost_usd), 6) AS cost_usd
FROM usage_daily
WHERE day >= toDate({since:DateTime64(3, 'UTC')}) AND day <= toDate({until:DateTime64(3, 'UTC')})
  AND ({team:String} = '' OR team = {team:String})
  AND ({user:String} = '' OR user = {user:String})
GROUP BY day, team, model
ORDER BY day, team, model
