-- Pending redirect logins (OAuth state), one row per login attempt; mirrors
-- migrations/0002_login_states.sql. Never edit a released migration; add a new file.
CREATE TABLE login_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX login_states_expires ON login_states (expires);
