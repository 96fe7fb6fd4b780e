-- Who asked the audit store what, and when (every named query is logged here).
SELECT
    time,
    principal,
    name,
    params,
    status,
    rows,
    duration_ms
FROM query_log
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
  AND ({user:String} = '' OR principal = {user:String})
ORDER BY time DESC
LIMIT 10000
