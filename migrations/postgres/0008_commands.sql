-- Commands sent to workers (server/src/control.rs): recorded before they are sent; whether they
-- took effect is read from the workers' heartbeats and the task records when asked.
CREATE TABLE commands (
    id           TEXT PRIMARY KEY,
    requested_at DOUBLE PRECISION NOT NULL,
    sent_at      DOUBLE PRECISION,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    queue        TEXT NOT NULL,
    task_id      TEXT,
    version      BIGINT,
    detail       TEXT NOT NULL
);
CREATE INDEX commands_by_time ON commands (requested_at);
CREATE INDEX commands_by_queue ON commands (queue, requested_at);
CREATE INDEX commands_by_task ON commands (task_id);
