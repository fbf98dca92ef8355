-- Back-channel logout notices waiting to be sent to services (issue #18): kept in the
-- database, not only in memory, so that a notice outlives a restart of the hub and any
-- replica can send it. A process claims a row (claimed_by = its instance id) while it
-- sends; a claim older than the lease is taken over by another process. The row is
-- deleted once the service has the notice or the hub gives up on it.
-- Never edit a released migration; add a new file instead.
CREATE TABLE logout_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    sid TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL,
    claimed_by TEXT,
    claimed_at BIGINT
);

CREATE INDEX logout_outbox_claimed ON logout_outbox (claimed_by, claimed_at);
