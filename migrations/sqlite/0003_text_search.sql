-- Text search over params, exception message and result (`q` of the tasks list) for tasks
-- that finished without success (state >= 3: failed, killed, revoked, expired), by task rowid.
-- The trigram tokenizer matches any substring of three characters or more, ignoring case.
-- Searches of other states read a bounded window instead (server/src/store/query.rs, whose
-- text expression this must match).
CREATE VIRTUAL TABLE task_text USING fts5(doc, tokenize = 'trigram', content = '', contentless_delete = 1);

CREATE TRIGGER task_text_insert AFTER INSERT ON tasks WHEN NEW.state >= 3 BEGIN
    INSERT INTO task_text (rowid, doc)
    VALUES (NEW.rowid, COALESCE(NEW.params, '') || ' ' || COALESCE(NEW.exception_msg, '') || ' ' || COALESCE(NEW.result, ''));
END;

CREATE TRIGGER task_text_update AFTER UPDATE ON tasks WHEN NEW.state >= 3 OR OLD.state >= 3 BEGIN
    DELETE FROM task_text WHERE rowid = OLD.rowid;
    INSERT INTO task_text (rowid, doc)
    SELECT NEW.rowid, COALESCE(NEW.params, '') || ' ' || COALESCE(NEW.exception_msg, '') || ' ' || COALESCE(NEW.result, '')
    WHERE NEW.state >= 3;
END;

CREATE TRIGGER task_text_delete AFTER DELETE ON tasks WHEN OLD.state >= 3 BEGIN
    DELETE FROM task_text WHERE rowid = OLD.rowid;
END;

INSERT INTO task_text (rowid, doc)
SELECT rowid, COALESCE(params, '') || ' ' || COALESCE(exception_msg, '') || ' ' || COALESCE(result, '')
FROM tasks WHERE state >= 3;
