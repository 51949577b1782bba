-- Sign-in guessing (issue 7): failed sign-ins per user name (known or not) and per client
-- address, shared by every instance behind the load balancer, and indexes for purging sessions.
-- service/admin/login.c writes the rows; its purge thread deletes rows idle for a day and sessions
-- expired or revoked longer ago than session_retention_s.
CREATE TABLE login_throttle (
    key           text PRIMARY KEY,                  -- 'user:<name>' or 'addr:<address>'
    failures      integer NOT NULL,                  -- since the last success (user) or in window
    window_start  timestamptz NOT NULL DEFAULT now(), -- addresses: start of the one-minute window
    blocked_until timestamptz,                       -- attempts before this get 429
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_throttle_updated_idx ON login_throttle (updated_at);

CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
