-- Task records: the latest known state of each task, upserted by task_id.
-- Times are epoch seconds (UTC). state: 0 pending, 1 running, 2 success, 3 failed, 4 killed,
-- 5 revoked, 6 expired. sort_time = start, else publish, else receive time: lists sort by it.
CREATE TABLE tasks (
    task_id        TEXT PRIMARY KEY,
    queue          TEXT NOT NULL,
    function       TEXT,
    state          SMALLINT NOT NULL,
    run_times      INTEGER NOT NULL,
    params         TEXT,
    result         TEXT,
    exception_type TEXT,
    exception_msg  TEXT,
    traceback      TEXT,
    publish_time   DOUBLE PRECISION,
    start_time     DOUBLE PRECISION,
    end_time       DOUBLE PRECISION,
    cost           DOUBLE PRECISION,
    host_name      TEXT,
    process_id     BIGINT,
    thread_id      BIGINT,
    script_name    TEXT,
    consumer_id    TEXT,
    extra          TEXT NOT NULL,
    updated_at     DOUBLE PRECISION NOT NULL,
    sort_time      DOUBLE PRECISION NOT NULL
);
CREATE INDEX tasks_by_time ON tasks (sort_time DESC, task_id DESC);
CREATE INDEX tasks_by_queue ON tasks (queue, sort_time DESC, task_id DESC);
CREATE INDEX tasks_by_state ON tasks (state, sort_time DESC, task_id DESC);
CREATE INDEX tasks_by_exception ON tasks (exception_type, sort_time DESC) WHERE exception_type IS NOT NULL;
CREATE INDEX tasks_by_host ON tasks (host_name, sort_time DESC) WHERE host_name IS NOT NULL;

-- Chart counters, added to at write time (see server/src/ingest/stats.rs for the codes).
CREATE TABLE task_stats (
    queue  TEXT NOT NULL,
    grain  SMALLINT NOT NULL,
    bucket BIGINT NOT NULL,
    metric SMALLINT NOT NULL,
    idx    SMALLINT NOT NULL,
    count  BIGINT NOT NULL,
    total  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (queue, grain, bucket, metric, idx)
);

-- Retention drops old buckets grain by grain.
CREATE INDEX task_stats_by_age ON task_stats (grain, bucket);

-- Events that could not be read, kept with the reason so nothing sent is silently lost.
CREATE TABLE dead_letters (
    id          BIGSERIAL PRIMARY KEY,
    received_at DOUBLE PRECISION NOT NULL,
    source      TEXT NOT NULL,
    error       TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX dead_letters_by_time ON dead_letters (received_at);

-- Every queue an event has named, kept at write time so listing queues never scans tasks.
CREATE TABLE queues (
    queue      TEXT PRIMARY KEY,
    first_seen DOUBLE PRECISION NOT NULL,
    last_seen  DOUBLE PRECISION NOT NULL
);
