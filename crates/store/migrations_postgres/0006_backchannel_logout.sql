-- OpenID Connect Back-Channel Logout 1.0 (issue #18). A session started by a login at an
-- OpenID provider remembers the verified ID token's issuer, subject and session id (sid),
-- so that the provider's logout token can end it; sessions of other logins leave them
-- NULL. Never edit a released migration; add a new file instead.
ALTER TABLE sessions ADD COLUMN provider_iss TEXT;
ALTER TABLE sessions ADD COLUMN provider_sub TEXT;
ALTER TABLE sessions ADD COLUMN provider_sid TEXT;
CREATE INDEX sessions_provider_sid ON sessions (provider_iss, provider_sid);
CREATE INDEX sessions_provider_sub ON sessions (provider_iss, provider_sub);

-- The jti of every logout token accepted, kept until the token could no longer be
-- accepted (expires), so that a replay is refused on every replica.
CREATE TABLE logout_token_jtis (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);

CREATE INDEX logout_token_jtis_expires ON logout_token_jtis (expires);
