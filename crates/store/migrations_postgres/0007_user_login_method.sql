-- Several login methods on one hub (issue #17). users.login_method is the method that
-- last logged the account in (its auth_state, refresh and logout belong to it);
-- user_login_methods holds every method that has logged it in: another method is
-- refused for the account unless a linking rule joins it, through login_links (a
-- verified identity, e.g. an email, that names the account). Never edit a released
-- migration; add a new file instead.
ALTER TABLE users ADD COLUMN login_method TEXT;

CREATE TABLE user_login_methods (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    -- The groups this method last gave the user (JSON array), NULL when it manages none.
    groups TEXT,
    PRIMARY KEY (user_id, method)
);

CREATE TABLE login_links (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value)
);
CREATE INDEX login_links_user ON login_links (user_id);
