-- Policy revisions over time: when each bundle revision was first and last used.
SELECT
    policy_revision AS revision,
    min(time) AS first_seen,
    max(time) AS last_seen,
    count() AS requests,
    countIf(NOT allowed) AS denials
FROM events
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
GROUP BY revision
ORDER BY first_seen
