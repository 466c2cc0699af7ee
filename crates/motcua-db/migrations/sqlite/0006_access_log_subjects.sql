-- The access log's per-citizen index becomes a table of its own, filled in sorted runs.
--
-- As an index on `access_log`, every entry copied from the journal was an insert at a random
-- place: about one 4 KiB page written per entry once the index outgrew a batch, synced with
-- every batch, and those writes were the main stall of requests on a busy node (measured in
-- BENCHMARKS.md). Now entries are appended in time order, and the ingester adds their
-- (day, citizen, time, id) rows here in runs of tens of thousands, sorted. Keys lead with the
-- day, so a run writes only the pages of the days it covers, however long the log grows, and
-- each of those about once. `access_log_indexing.indexed_id` is the id up to which every
-- entry is in this table; readers look through the newer entries directly.

CREATE TABLE audit.access_log_subjects (
    day BIGINT NOT NULL,
    subject_pid BIGINT NOT NULL,
    at BIGINT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (day, subject_pid, at, id)
) WITHOUT ROWID;

-- The days (UTC, since 1970) that have entries: a citizen's list is one lookup per day.
CREATE TABLE audit.access_log_days (
    day BIGINT PRIMARY KEY
);

INSERT INTO audit.access_log_subjects (day, subject_pid, at, id)
SELECT at / 86400000000, subject_pid, at, id FROM audit.access_log
WHERE subject_pid IS NOT NULL ORDER BY 1, 2, 3, 4;
INSERT INTO audit.access_log_days (day)
SELECT DISTINCT day FROM audit.access_log_subjects ORDER BY 1;

DROP INDEX audit.access_log_by_subject;

CREATE TABLE audit.access_log_indexing (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_id BIGINT NOT NULL
);
INSERT INTO audit.access_log_indexing (id, indexed_id)
SELECT 1, COALESCE(MAX(id), 0) FROM audit.access_log;
