-- Facts about this taskdeck installation, e.g. when its store was created.
CREATE TABLE taskdeck_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
INSERT INTO taskdeck_meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
