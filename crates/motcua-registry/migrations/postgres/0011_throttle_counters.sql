-- The verification throttle's counters move to the schema `counters` (on SQLite, a file of
-- their own: see the SQLite migration of the same name). They are state, not records (each
-- verification they count is in the access log with its outcome), so they are UNLOGGED: a
-- count costs no WAL record and no WAL flush at commit. After a crash of the server
-- PostgreSQL empties them, and the limits start again from zero; a standby does not have
-- them, so after a failover too.

CREATE SCHEMA counters;
ALTER TABLE verification_failures SET SCHEMA counters;
ALTER TABLE verification_quota SET SCHEMA counters;
ALTER TABLE counters.verification_failures SET UNLOGGED;
ALTER TABLE counters.verification_quota SET UNLOGGED;
