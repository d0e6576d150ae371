-- forkwatch's OpenTelemetry records (`--json --schema otel`) in ClickHouse, one row per
-- event; see docs/clickhouse.md. Column names are the records' keys, dotted, so that
-- `FORMAT JSONEachRow` takes the lines as they are (checked with ClickHouse 18.16).
-- A key a record leaves out gets the column's default: NULL, 0, '' or [].
CREATE TABLE IF NOT EXISTS forkwatch_events
(
    `host.name` String,
    `forkwatch.event.kind` String,
    `forkwatch.event.time` Nullable(String),
    `forkwatch.event.ts_ns` UInt64,
    `forkwatch.lost.count` UInt64,
    `forkwatch.process.id` String,
    `forkwatch.parent.id` Nullable(String),
    `forkwatch.process.ancestors` Array(String),
    `process.pid` UInt32,
    `process.parent_pid` UInt32,
    `process.vpid` Nullable(UInt32),
    `process.creation.time` Nullable(String),
    `forkwatch.process.start_ns` UInt64,
    `forkwatch.thread.id` UInt32,
    `forkwatch.process.comm` String,
    `forkwatch.process.comm_base64` String,
    `forkwatch.kernel_thread` UInt8,
    `process.real_user.id` Nullable(UInt32),
    `process.user.id` Nullable(UInt32),
    `forkwatch.process.real_group.id` Nullable(UInt32),
    `forkwatch.process.group.id` Nullable(UInt32),
    `forkwatch.pid_ns` Nullable(UInt32),
    `forkwatch.cgroup_id` Nullable(UInt64),
    `process.linux.cgroup` Nullable(String),
    `forkwatch.cgroup_base64` String,
    `forkwatch.container.runtime` String,
    `forkwatch.container.id` String,
    `forkwatch.container.pod` Nullable(String),
    `process.executable.path` String,
    `process.executable.name` String,
    `forkwatch.executable.path_base64` String,
    `process.command` Nullable(String),
    `process.command_args` Array(String),
    `process.args_count` UInt32,
    `forkwatch.argv_base64` Array(String),
    `forkwatch.argv_truncated` UInt8,
    `forkwatch.executable.path_truncated` UInt8,
    `forkwatch.argv_unreadable` UInt8,
    `process.exit.code` Nullable(Int32),
    `process.exit.time` Nullable(String),
    `forkwatch.exit.signal` Nullable(Int32),
    `forkwatch.exit.signal_name` Nullable(String),
    `forkwatch.exit.core_dumped` UInt8,
    `forkwatch.run_ns` Nullable(UInt64),
    `forkwatch.exit.cpu_user_ns` Nullable(UInt64),
    `forkwatch.exit.cpu_system_ns` Nullable(UInt64),
    `forkwatch.exit.max_rss_bytes` Nullable(UInt64),
    `forkwatch.inferred` UInt8,
    -- The event's time as a DateTime (to the second), for partitions and time ranges:
    -- 18.16 reads no RFC 3339 fractions of a second into a DateTime column itself. Null
    -- (a time no date can name, from a damaged recording's clock) is 1970.
    `event_time` DateTime MATERIALIZED
        parseDateTimeBestEffort(ifNull(`forkwatch.event.time`, '1970-01-01T00:00:00Z'))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (`host.name`, `forkwatch.event.ts_ns`);
