-- Text search over params, exception message and result (`q` of the tasks list) for tasks
-- that finished without success (state >= 3: failed, killed, revoked, expired). A trigram
-- index answers substring searches (ILIKE '%…%'); indexing every success as well would cost
-- ingest several times over, so searches of other states read a bounded window instead
-- (server/src/store/query.rs, which must use this exact expression).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tasks_text ON tasks USING gin (
    (COALESCE(params, '') || ' ' || COALESCE(exception_msg, '') || ' ' || COALESCE(result, '')) gin_trgm_ops
) WHERE state >= 3;
