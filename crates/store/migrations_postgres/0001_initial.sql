-- hubauth store schema, version 1 (PostgreSQL), mirroring migrations/0001_initial.sql
-- line for line: INTEGER PRIMARY KEY -> BIGSERIAL PRIMARY KEY, BLOB -> BYTEA.
-- Never edit a migration once released (sqlx checks their checksums): add a new file.
-- Times are unix seconds (BIGINT). JSON columns are TEXT holding a JSON array.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    created BIGINT NOT NULL,
    last_activity BIGINT,
    encrypted_auth_state BYTEA
);

CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE user_group_map (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

CREATE INDEX user_group_map_group ON user_group_map (group_id);

CREATE TABLE roles (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '[]',
    managed_by_auth BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE user_role_map (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE INDEX user_role_map_role ON user_role_map (role_id);

-- id_hash is the hex SHA-256 of the random session id; the raw id is never stored.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

-- hash is a digest of the token; the token itself is never stored.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    note TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '[]',
    created BIGINT NOT NULL,
    expires BIGINT,
    last_activity BIGINT
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);
