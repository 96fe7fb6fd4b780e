-- Materialized roll-ups: what the ROI queries read instead of scanning every event.
CREATE TABLE IF NOT EXISTS usage_daily ${on_cluster}
(
    day Date,
    team LowCardinality(String),
    user String,
    model LowCardinality(String),
    provider LowCardinality(String),
    requests UInt64,
    denied UInt64,
    errors UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cached_tokens UInt64,
    cost_usd Float64
)
ENGINE = ${engine_prefix}SummingMergeTree(${replication_args})
PARTITION BY toYYYYMM(day)
ORDER BY (day, team, user, model, provider)
TTL day + INTERVAL ${metadata_ttl_days} DAY
-- dependent views are deduplicated too, but only on tables that keep a window
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily_mv ${on_cluster} TO usage_daily AS
SELECT
    toDate(time) AS day,
    team,
    user,
    model,
    provider,
    count() AS requests,
    countIf(NOT allowed) AS denied,
    countIf(status >= 400) AS errors,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cost_usd) AS cost_usd
FROM events
GROUP BY day, team, user, model, provider;

CREATE TABLE IF NOT EXISTS latency_hourly ${on_cluster}
(
    hour DateTime('UTC'),
    provider LowCardinality(String),
    model LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    latency AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64),
    upstream AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64),
    overhead AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64),
    ttfb AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64)
)
ENGINE = ${engine_prefix}AggregatingMergeTree(${replication_args})
PARTITION BY toYYYYMM(hour)
ORDER BY (provider, model, hour)
TTL hour + INTERVAL ${metadata_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS latency_hourly_mv ${on_cluster} TO latency_hourly AS
SELECT
    toStartOfHour(time) AS hour,
    provider,
    model,
    count() AS requests,
    quantilesState(0.5, 0.95, 0.99)(latency_ms) AS latency,
    quantilesState(0.5, 0.95, 0.99)(upstream_ms) AS upstream,
    quantilesState(0.5, 0.95, 0.99)(overhead_ms) AS overhead,
    quantilesState(0.5, 0.95, 0.99)(ttfb_ms) AS ttfb
FROM events
WHERE status < 400
GROUP BY hour, provider, model;
