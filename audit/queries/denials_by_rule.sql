-- Denied requests by policy rule.
SELECT
    rule,
    count() AS denials,
    uniqExact(user) AS users,
    uniqExact(team) AS teams,
    max(time) AS last_seen
FROM events
ARRAY JOIN if(empty(reasons), ['(none)'], reasons) AS rule
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
  AND NOT allowed
  AND ({team:String} = '' OR team = {team:String})
GROUP BY rule
ORDER BY denials DESC, rule
