-- One row per exchange. Ordered for per-team and per-user scans; text expires before metadata.
-- Placeholders (audit/schema.py): ${on_cluster}, ${engine_prefix}, ${replication_args},
-- ${text_ttl_days}, ${metadata_ttl_days}. The deploy helper renders Replicated + ON CLUSTER from here.
CREATE TABLE IF NOT EXISTS events ${on_cluster}
(
    id String,
    time DateTime64(3, 'UTC'),
    user String,
    team LowCardinality(String),
    roles Array(LowCardinality(String)),
    key_id String,
    client String,
    via LowCardinality(String),
    provider LowCardinality(String),
    endpoint LowCardinality(String),
    model LowCardinality(String),
    host LowCardinality(String),
    region LowCardinality(String),
    stream Bool,
    status UInt16,
    allowed Bool,
    reasons Array(LowCardinality(String)),
    policy_revision LowCardinality(String),
    policy_input String CODEC(ZSTD(1)),
    finding_counts Map(LowCardinality(String), UInt32),
    audit_level LowCardinality(String),
    prompt String CODEC(ZSTD(1)) TTL toDateTime(time) + INTERVAL ${text_ttl_days} DAY,
    response String CODEC(ZSTD(1)) TTL toDateTime(time) + INTERVAL ${text_ttl_days} DAY,
    prompt_sha256 String,
    response_sha256 String,
    input_tokens UInt32,
    output_tokens UInt32,
    cached_tokens UInt32,
    cost_usd Float64,
    latency_ms Float64,
    upstream_ms Float64,
    overhead_ms Float64,
    ttfb_ms Float64,
    error String,
    request_id String,
    chain_id LowCardinality(String),
    chain_seq UInt64,
    prev_hash String,
    hash String
)
ENGINE = ${engine_prefix}ReplacingMergeTree(${replication_args})
PARTITION BY toYYYYMM(time)
ORDER BY (team, user, time, id)
TTL toDateTime(time) + INTERVAL ${metadata_ttl_days} DAY
-- the insert token makes a retried batch a no-op (non-replicated tables need a window)
SETTINGS non_replicated_deduplication_window = 10000;
