-- Mirrors migrations/0003_oauth_grants.sql.
-- The hub's own OAuth provider: authorization codes and refresh tokens, each under a
-- digest of its value (the value itself is never stored). Every row belongs to a token
-- family: the code it descends from (a code's family is its own hash). A row is used
-- once (state 'active' -> 'used'); presenting a used row again revokes its whole family
-- ('revoked'), and access_token_hash names the API token issued with each refresh token,
-- so the family's access tokens go too. Never edit a released migration; add a new file.
CREATE TABLE oauth_grants (
    hash TEXT PRIMARY KEY NOT NULL,
    family TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    access_token_hash TEXT,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX oauth_grants_family ON oauth_grants (family);
CREATE INDEX oauth_grants_expires ON oauth_grants (expires);
