-- Task records: the latest known state of each task, upserted by task_id.
-- Times are epoch seconds (UTC). state: 0 pending, 1 running, 2 success, 3 failed, 4 killed,
-- 5 revoked, 6 expired. sort_time = start, else publish, else receive time: lists sort by it.
CREATE TABLE tasks (
    task_id        TEXT PRIMARY KEY NOT NULL,
    queue          TEXT NOT NULL,
    function       TEXT,
    state          INTEGER NOT NULL,
    run_times      INTEGER NOT NULL,
    params         TEXT,
    result         TEXT,
    exception_type TEXT,
    exception_msg  TEXT,
    traceback      TEXT,
    publish_time   REAL,
    start_time     REAL,
    end_time       REAL,
    cost           REAL,
    host_name      TEXT,
    process_id     INTEGER,
    thread_id      INTEGER,
    script_name    TEXT,
    consumer_id    TEXT,
    extra          TEXT NOT NULL,
    updated_at     REAL NOT NULL,
    sort_time      REAL NOT NULL
);
-- Newest-first lists, filtered by the columns the tasks page filters on.
CREATE INDEX tasks_by_time ON tasks (sort_time DESC, task_id DESC);
CREATE INDEX tasks_by_queue ON tasks (queue, sort_time DESC, task_id DESC);
CREATE INDEX tasks_by_state ON tasks (state, sort_time DESC, task_id DESC);
CREATE INDEX tasks_by_exception ON tasks (exception_type, sort_time DESC) WHERE exception_type IS NOT NULL;
CREATE INDEX tasks_by_host ON tasks (host_name, sort_time DESC) WHERE host_name IS NOT NULL;

-- Chart counters, added to at write time (see server/src/ingest/stats.rs for the codes).
CREATE TABLE task_stats (
    queue  TEXT NOT NULL,
    grain  INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    metric INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    total  REAL NOT NULL,
    PRIMARY KEY (queue, grain, bucket, metric, idx)
) WITHOUT ROWID;

-- Retention drops old buckets grain by grain.
CREATE INDEX task_stats_by_age ON task_stats (grain, bucket);

-- Events that could not be read, kept with the reason so nothing sent is silently lost.
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    source      TEXT NOT NULL,
    error       TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX dead_letters_by_time ON dead_letters (received_at);

-- Every queue an event has named, kept at write time so listing queues never scans tasks.
CREATE TABLE queues (
    queue      TEXT PRIMARY KEY NOT NULL,
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL
) WITHOUT ROWID;
