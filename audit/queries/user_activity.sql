-- One user's activity over a period (export): every exchange with its redacted text.
SELECT
    time,
    id,
    team,
    client,
    via,
    provider,
    endpoint,
    model,
    region,
    status,
    allowed,
    reasons,
    finding_counts,
    audit_level,
    input_tokens,
    output_tokens,
    cost_usd,
    latency_ms,
    prompt,
    response
FROM events
WHERE user = {user:String}
  AND time >= {since:DateTime64(3, 'UTC')} AND time < {until:DateTime64(3, 'UTC')}
ORDER BY time
LIMIT 100000
