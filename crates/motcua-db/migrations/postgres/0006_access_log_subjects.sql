-- The access log's per-citizen index becomes a table of its own (see the SQLite migration of
-- the same name for why). On PostgreSQL entries are written directly, with their rows here in
-- the same transaction, so `indexed_id` only matters to the embedded database's ingester; and
-- a citizen's list is read through an index by citizen (PostgreSQL's buffer pool absorbs the
-- random inserts that stall SQLite's commits).

CREATE TABLE audit.access_log_subjects (
    day BIGINT NOT NULL,
    subject_pid BIGINT NOT NULL,
    at BIGINT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (day, subject_pid, at, id)
);

-- The days (UTC, since 1970) that have entries: a citizen's list is one lookup per day.
CREATE TABLE audit.access_log_days (
    day BIGINT PRIMARY KEY
);

INSERT INTO audit.access_log_subjects (day, subject_pid, at, id)
SELECT at / 86400000000, subject_pid, at, id FROM audit.access_log
WHERE subject_pid IS NOT NULL;
INSERT INTO audit.access_log_days (day)
SELECT DISTINCT day FROM audit.access_log_subjects;

CREATE INDEX access_log_subjects_by_subject ON audit.access_log_subjects (subject_pid, at, id);

DROP INDEX audit.access_log_by_subject;

CREATE TABLE audit.access_log_indexing (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_id BIGINT NOT NULL
);
INSERT INTO audit.access_log_indexing (id, indexed_id)
SELECT 1, COALESCE(MAX(id), 0) FROM audit.access_log;
