-- The exact policy inputs recorded with each decision: the source of `customs policy replay`.
SELECT
    id,
    time,
    policy_input,
    allowed,
    reasons,
    audit_level
FROM events
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
  AND policy_input != ''
ORDER BY time
LIMIT 1000000
