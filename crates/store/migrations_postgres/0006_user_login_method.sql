-- The login method that owns each account, on a hub with several login methods
-- (issue #17): a login through another method is refused unless a linking rule joins
-- them. NULL for accounts no method has logged in. Never edit a released migration; add
-- a new file instead.
ALTER TABLE users ADD COLUMN login_method TEXT;
