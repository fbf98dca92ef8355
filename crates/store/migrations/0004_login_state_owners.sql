-- Whose pending login each row is, so a flood of anonymous login starts is capped per
-- browser binding, per client address and in all (issue #13 point 7). Never edit a
-- released migration; add a new file instead.
ALTER TABLE login_states ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE login_states ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE login_states ADD COLUMN next_url TEXT NOT NULL DEFAULT '';
CREATE INDEX login_states_owner ON login_states (owner);
CREATE INDEX login_states_client ON login_states (client);
