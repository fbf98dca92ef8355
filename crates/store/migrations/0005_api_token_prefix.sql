-- Tokens imported from a JupyterHub database keep JupyterHub's salted hash
-- (`algorithm:rounds:salt:hexdigest`), which cannot be looked up by value: they are found
-- by their prefix (the token's first four characters) and compared one by one, as
-- JupyterHub does (issue #19). Never edit a released migration; add a new file instead.
CREATE INDEX api_tokens_prefix ON api_tokens (prefix);
