-- The access log's per-citizen index becomes a table of its own, filled in sorted runs.
--
-- As an index on `access_log`, every entry copied from the journal was an insert at a random
-- place: about one 4 KiB page written per entry once the index outgrew a batch, synced with
-- every batch, and those writes were the main stall of requests on a busy node (measured in
-- BENCHMARKS.md). Now entries are appended in time order, and the ingester adds their
-- (citizen, time, id) rows here in runs of tens of thousands, sorted, so each page of the
-- index is written about once per run. `access_log_indexing.indexed_id` is the id up to
-- which every entry is in this table; readers look through the newer entries directly.

CREATE TABLE audit.access_log_subjects (
    subject_pid BIGINT NOT NULL,
    at BIGINT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (subject_pid, at, id)
) WITHOUT ROWID;

INSERT INTO audit.access_log_subjects (subject_pid, at, id)
SELECT subject_pid, at, id FROM audit.access_log WHERE subject_pid IS NOT NULL ORDER BY 1, 2, 3;

DROP INDEX audit.access_log_by_subject;

CREATE TABLE audit.access_log_indexing (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_id BIGINT NOT NULL
);
INSERT INTO audit.access_log_indexing (id, indexed_id)
SELECT 1, COALESCE(MAX(id), 0) FROM audit.access_log;
