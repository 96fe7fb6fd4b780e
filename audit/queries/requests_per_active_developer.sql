-- Requests per active developer per day (a developer is active on a day with any request).
SELECT
    day,
    sum(requests) AS requests,
    uniqExact(user) AS active_developers,
    round(requests / greatest(active_developers, 1), 2) AS requests_per_developer
FROM usage_daily
WHERE day >= toDate({since:DateTime64(3, 'UTC')}) AND day <= toDate({until:DateTime64(3, 'UTC')})
  AND ({team:String} = '' OR team = {team:String})
GROUP BY day
ORDER BY day
