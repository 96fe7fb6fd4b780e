-- Secrets and PII caught, by finding type and team (counts only; values are never stored).
SELECT
    team,
    kv.1 AS type,
    sum(kv.2) AS findings,
    count() AS requests
FROM events
ARRAY JOIN CAST(finding_counts, 'Array(Tuple(String, UInt32))') AS kv
WHERE time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
  AND ({team:String} = '' OR team = {team:String})
GROUP BY team, type
ORDER BY findings DESC, team, type
