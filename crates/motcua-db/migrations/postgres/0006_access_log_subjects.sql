-- The access log's per-citizen index becomes a table of its own (see the SQLite migration of
-- the same name for why). On PostgreSQL entries are written directly, with their rows here in
-- the same transaction, so `indexed_id` only matters to the embedded database's ingester.

CREATE TABLE audit.access_log_subjects (
    subject_pid BIGINT NOT NULL,
    at BIGINT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (subject_pid, at, id)
);

INSERT INTO audit.access_log_subjects (subject_pid, at, id)
SELECT subject_pid, at, id FROM audit.access_log WHERE subject_pid IS NOT NULL;

DROP INDEX audit.access_log_by_subject;

CREATE TABLE audit.access_log_indexing (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_id BIGINT NOT NULL
);
INSERT INTO audit.access_log_indexing (id, indexed_id)
SELECT 1, COALESCE(MAX(id), 0) FROM audit.access_log;
