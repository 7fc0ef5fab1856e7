-- Failure counters, added to at write time (server/src/ingest/failures.rs): per queue, final
-- state (3 failed, 4 killed, 5 revoked, 6 expired) and exception type ('' when none), per
-- minute (grain 1) and hour (grain 2) bucket, with the first and last finish time and the
-- latest task as a sample. The failures view reads a range of them.
CREATE TABLE failure_stats (
    queue          TEXT COLLATE "C" NOT NULL,
    state          SMALLINT NOT NULL,
    exception_type TEXT COLLATE "C" NOT NULL,
    grain          SMALLINT NOT NULL,
    bucket         BIGINT NOT NULL,
    count          BIGINT NOT NULL,
    first_at       DOUBLE PRECISION NOT NULL,
    last_at        DOUBLE PRECISION NOT NULL,
    sample_task_id TEXT NOT NULL,
    sample_msg     TEXT,
    PRIMARY KEY (queue, state, exception_type, grain, bucket)
);
-- A range of every queue at once, and retention by age.
CREATE INDEX failure_stats_by_time ON failure_stats (grain, bucket);
