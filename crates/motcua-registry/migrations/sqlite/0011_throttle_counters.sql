-- The verification throttle's counters move out of the registry's file into their own,
-- attached as `counters` (motcua_db::counters_file). On the verification benchmark three
-- answers in five are non-matches, each one counted: thousands of small commits a second to
-- random pages. In the registry's file every such commit made each reader reload its pages,
-- and each checkpoint wrote and synced those pages among the registry's; a file of their own
-- keeps both away from the citizens' pages.
--
-- The counters are state, not records (each verification they count is in the access log
-- with its outcome), so the counts of before this migration are not carried over, as on
-- PostgreSQL after a crash (see the PostgreSQL migration of the same name). Every statement
-- can run again: when the counters' file is lost, this migration is replayed to create an
-- empty one (motcua_db::migrate).

CREATE TABLE IF NOT EXISTS counters.verification_failures (
    client_id TEXT NOT NULL,
    pid BIGINT NOT NULL,
    recent_failures TEXT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, pid)
);

CREATE TABLE IF NOT EXISTS counters.verification_quota (
    client_id TEXT NOT NULL,
    day TEXT NOT NULL,
    verifications BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, day)
);

DROP TABLE IF EXISTS main.verification_failures;
DROP TABLE IF EXISTS main.verification_quota;
