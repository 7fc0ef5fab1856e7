-- Every attempt of a retried task (JSON array of {n, start, end, state, exception_type,
-- exception_msg}, oldest first), as its worker reported it; NULL for tasks that ran once.
ALTER TABLE tasks ADD COLUMN attempts TEXT;
