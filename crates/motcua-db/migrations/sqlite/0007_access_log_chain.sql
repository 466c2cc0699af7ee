-- The access log becomes tamper-evident (see crates/motcua-db/src/access_log/chain.rs).
--
-- Entries are chained per UTC day of `at`, in id order: each carries the SHA-256 of its
-- fields and of the previous entry of its day (`prev_hash`; 32 zero bytes for a day's first).
-- `access_log_chain` holds each day's head: its last entry, that entry's hash and the number
-- of entries. Every writer extends the chain in the transaction that stores the entries, so
-- the head always agrees with the rows. Entries stored before this migration have no hash:
-- they stay unchained (SQLite has no SHA-256 in SQL to chain them here), and
-- `access_log_unchained.last_id` marks where they end, so the verifier counts them instead of
-- reporting them.

ALTER TABLE audit.access_log ADD COLUMN prev_hash BLOB;
ALTER TABLE audit.access_log ADD COLUMN hash BLOB;

CREATE TABLE audit.access_log_chain (
    day BIGINT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    head_hash BLOB NOT NULL,
    entries BIGINT NOT NULL
);

CREATE TABLE audit.access_log_unchained (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL
);
INSERT INTO audit.access_log_unchained (id, last_id)
SELECT 1, COALESCE(MAX(id), 0) FROM audit.access_log;

-- Recorded accesses are never changed or removed (Decree 13/2023/NĐ-CP: processing
-- records are kept); whoever drops these triggers to do it breaks the chain.
CREATE TRIGGER audit.access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only');
END;
CREATE TRIGGER audit.access_log_no_delete BEFORE DELETE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only');
END;
