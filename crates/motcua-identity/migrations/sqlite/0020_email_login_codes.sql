-- The one-time codes sent to a proved e-mail address share one table: password resets and,
-- from here, the second factor of a login by e-mail (crates/motcua-identity/src/login_codes.rs).
ALTER TABLE citizen_password_resets ADD COLUMN purpose TEXT NOT NULL DEFAULT 'password_reset'
    CHECK (purpose IN ('password_reset', 'login'));
