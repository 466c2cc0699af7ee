-- Recent access-log entries, appended without secondary indexes so that recording an access
-- costs one sequential page write; a writer moves them into `access_log` (indexed by citizen)
-- in sorted batches. Readers see the union of both tables. Used on SQLite; on PostgreSQL
-- entries go straight to `access_log` and this table stays empty.
CREATE TABLE access_log_recent (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('staff', 'client', 'citizen', 'system')),
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    purpose TEXT NOT NULL,
    reference TEXT,
    subject_pid BIGINT,
    outcome TEXT NOT NULL,
    request_id TEXT
);
