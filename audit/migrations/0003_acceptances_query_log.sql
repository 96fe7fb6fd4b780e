-- Copilot ghost-text telemetry (shown/accepted), joined to events by request_id.
CREATE TABLE IF NOT EXISTS acceptances ${on_cluster}
(
    id String,
    request_id String,
    time DateTime64(3, 'UTC'),
    user String,
    accepted Bool
)
ENGINE = ${engine_prefix}ReplacingMergeTree(${replication_args})
PARTITION BY toYYYYMM(time)
ORDER BY (user, time, id)
TTL toDateTime(time) + INTERVAL ${metadata_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

-- Every audit query is itself audited: who asked what, when, and what came back.
CREATE TABLE IF NOT EXISTS query_log ${on_cluster}
(
    id String,
    time DateTime64(3, 'UTC'),
    principal String,
    name LowCardinality(String),
    params String,
    status LowCardinality(String),
    rows UInt64,
    duration_ms Float64,
    error String
)
ENGINE = ${engine_prefix}ReplacingMergeTree(${replication_args})
PARTITION BY toYYYYMM(time)
ORDER BY (principal, time, id)
TTL toDateTime(time) + INTERVAL ${metadata_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;
