-- The patrol app's unsent queue as its phone last reported it (the optional "queue" of each
-- positions batch, POST /api/v1/units/{id}/positions): how many items were waiting, the oldest
-- one's time, and when the phone said so. Supervisors see a unit whose phone has had unsent items
-- for more than 12 hours (the console marks it).
ALTER TABLE units
    ADD COLUMN app_queue_length    integer CHECK (app_queue_length >= 0),
    ADD COLUMN app_queue_oldest_at timestamptz,
    ADD COLUMN app_queue_at        timestamptz;
