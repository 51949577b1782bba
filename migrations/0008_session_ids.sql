-- Sessions get a number: an event stream and a stream token are bound to the session that opened
-- or minted them (service/core/events.c). Revoking a session (sign-out, password change, `user
-- add`, later disabling a user) appends a `session.revoked` event with the session's id as
-- entity_id; every instance's event reader then ends that session's streams. Stream tokens sign
-- the id, so one stays valid exactly as long as its session.
ALTER TABLE sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE sessions ADD CONSTRAINT sessions_id_key UNIQUE (id);
