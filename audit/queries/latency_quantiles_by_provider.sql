-- Latency p50/p95/p99 by provider (total, upstream, proxy overhead), from the latency_hourly roll-up.
SELECT
    provider,
    requests,
    round(lq[1], 3) AS p50_ms,
    round(lq[2], 3) AS p95_ms,
    round(lq[3], 3) AS p99_ms,
    round(uq[2], 3) AS upstream_p95_ms,
    round(oq[1], 3) AS overhead_p50_ms,
    round(oq[3], 3) AS overhead_p99_ms
FROM
(
    SELECT
        provider,
        sum(requests) AS requests,
        quantilesMerge(0.5, 0.95, 0.99)(latency) AS lq,
        quantilesMerge(0.5, 0.95, 0.99)(upstream) AS uq,
        quantilesMerge(0.5, 0.95, 0.99)(overhead) AS oq
    FROM latency_hourly
    WHERE hour >= toStartOfHour({since:DateTime64(3, 'UTC')}) AND hour < {until:DateTime64(3, 'UTC')}
    GROUP BY provider
)
ORDER BY provider
