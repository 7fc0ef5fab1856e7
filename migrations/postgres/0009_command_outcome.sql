-- What sending a command did, as JSON (protocol::control::Outcome): the limits set, a retry's
-- new task, how many messages went. `detail` keeps only why a command was not sent or took no
-- effect; older rows keep their words there and have no outcome.
ALTER TABLE commands ADD COLUMN outcome TEXT;
