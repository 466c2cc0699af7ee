-- Access-log entries are now journaled on the node and copied into `access_log` in batches
-- (see crates/motcua-db/src/access_log), so the unindexed staging table goes. `access_journal`
-- holds each node's position in its journal, committed with the entries it covers.

INSERT INTO audit.access_log (at, actor_kind, actor_id, actor_name, action, purpose, reference,
                              subject_pid, outcome, request_id)
SELECT at, actor_kind, actor_id, actor_name, action, purpose, reference, subject_pid, outcome,
       request_id
FROM audit.access_log_recent ORDER BY id;
DROP TABLE audit.access_log_recent;

CREATE TABLE audit.access_journal (
    node_id TEXT PRIMARY KEY,
    ingested_seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
