-- Recorded policy inputs and decisions, oldest first (what `customs policy replay` evaluates).
SELECT
    id,
    time,
    user,
    team,
    allowed,
    reasons,
    audit_level,
    policy_revision,
    policy_input
FROM events
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
  AND policy_input != ''
  AND ({team:String} = '' OR team = {team:String})
  AND ({user:String} = '' OR user = {user:String})
ORDER BY time
LIMIT 1000000
