-- itsp store, SQLite: voicemail messages. Keep in step with ../postgres/0012_voicemail.sql.
--
-- One row per message left in a subscriber's mailbox by the media service: who called
-- (the From URI), when (Unix milliseconds), how long (milliseconds), the WAV file (a path
-- relative to the data directory's voicemail folder, DOMAIN/USER/ID.wav) and whether the
-- owner has heard it ('new' or 'saved'). Deleted with the subscriber; the files are the
-- operator's to clean up.

CREATE TABLE voicemail_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    caller        TEXT    NOT NULL,
    created_ms    INTEGER  NOT NULL,
    duration_ms   INTEGER  NOT NULL CHECK (duration_ms >= 0),
    file          TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status = 'new' OR status = 'saved')
);

CREATE INDEX voicemail_messages_by_subscriber ON voicemail_messages (subscriber_id, created_ms);
