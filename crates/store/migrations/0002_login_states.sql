-- Pending redirect logins (OAuth state), one row per login attempt. Never edit a released
-- migration; add a new file instead.
CREATE TABLE login_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX login_states_expires ON login_states (expires);
