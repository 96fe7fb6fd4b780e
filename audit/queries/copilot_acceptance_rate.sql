-- Copilot ghost-text acceptance rate per day, from the client's telemetry seen by the proxy.
SELECT
    toDate(time) AS day,
    count() AS shown,
    countIf(accepted) AS accepted,
    round(accepted / shown, 4) AS acceptance_rate
FROM acceptances
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
  AND ({user:String} = '' OR user = {user:String})
GROUP BY day
ORDER BY day
