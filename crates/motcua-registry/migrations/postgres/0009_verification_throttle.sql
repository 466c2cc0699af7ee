-- Throttling of the verification API (crates/motcua-registry/src/throttle.rs), shared by every
-- node. These are counters, like a rate limiter's: each verification they count is already in
-- the access log with its outcome, so updating them appends no event (an event per request
-- would double the cost of the busiest request).

-- Per client and PID, the times of the most recent non-matching answers: each one 16 digits
-- of microseconds after a space, the oldest first, at most one more than the limit. A sliding
-- window needs no more: the limit is reached while the limit-th newest is inside it.
CREATE TABLE verification_failures (
    client_id TEXT NOT NULL,
    pid BIGINT NOT NULL,
    recent_failures TEXT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, pid)
);

-- Per client and day (Asia/Ho_Chi_Minh, 'YYYY-MM-DD'), the verifications counted so far; each
-- node adds its count in batches.
CREATE TABLE verification_quota (
    client_id TEXT NOT NULL,
    day TEXT NOT NULL,
    verifications BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, day)
);
