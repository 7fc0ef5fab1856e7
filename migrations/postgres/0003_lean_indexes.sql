-- Identifiers compare byte by byte: cheaper on every insert into the indexes that hold them,
-- and a task_id prefix (LIKE 'abc%') can walk the primary key.
ALTER TABLE tasks
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN queue TYPE TEXT COLLATE "C",
    ALTER COLUMN host_name TYPE TEXT COLLATE "C",
    ALTER COLUMN exception_type TYPE TEXT COLLATE "C";

-- Successes are most rows and are listed through the time and queue indexes; the state index
-- serves what people filter for (failed, running, killed, …) and skips the successes, which
-- spares one index insert per successful task. Queries name state codes as literals so the
-- planner can prove they match this predicate.
DROP INDEX tasks_by_state;
CREATE INDEX tasks_by_state ON tasks (state, sort_time DESC, task_id DESC) WHERE state <> 2;
