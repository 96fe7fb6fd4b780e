-- Requests that tried to send data to a region the principal may not use.
SELECT
    time,
    id,
    user,
    team,
    provider,
    model,
    region,
    allowed,
    arrayFilter(r -> startsWith(r, 'residency'), reasons) AS rules
FROM events
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
  AND arrayExists(r -> startsWith(r, 'residency'), reasons)
  AND ({team:String} = '' OR team = {team:String})
  AND ({user:String} = '' OR user = {user:String})
ORDER BY time DESC
LIMIT 10000
