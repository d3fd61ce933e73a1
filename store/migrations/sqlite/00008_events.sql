-- +goose Up
-- What an activeflow needs to call back: VoIPbin's webhook fields, and its place in an on_complete_flow_id chain.
ALTER TABLE activeflows ADD COLUMN webhook_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE activeflows ADD COLUMN webhook_method TEXT NOT NULL DEFAULT '';
ALTER TABLE activeflows ADD COLUMN on_complete_flow_id TEXT;
ALTER TABLE activeflows ADD COLUMN reference_activeflow_id TEXT;
ALTER TABLE activeflows ADD COLUMN on_complete_activeflow_id TEXT;
ALTER TABLE activeflows ADD COLUMN on_complete_error TEXT NOT NULL DEFAULT '';
ALTER TABLE activeflows ADD COLUMN complete_count INTEGER NOT NULL DEFAULT 0;

-- The customer's webhook: where its events go, and the secret they are signed with (sealed under the server's
-- secret: a backup alone cannot sign).
ALTER TABLE customers ADD COLUMN webhook_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN webhook_method TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN tm_update DATETIME;

-- The outbox: every request flowbin owes a customer's system (an activeflow's events, webhook_send without sync),
-- written in the transaction of the change that caused it and delivered at least once by any instance. id is the
-- message's id (webhook-id), the same on every attempt. A row is leased while an instance delivers it.
CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    activeflow_id TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    url           TEXT NOT NULL,
    method        TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    signed        INTEGER NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  DATETIME NOT NULL,
    lease_until   DATETIME,
    tm_create     DATETIME NOT NULL,
    tm_update     DATETIME
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'pending';
CREATE INDEX outbox_activeflow ON outbox (activeflow_id, tm_create, id);

CREATE TABLE outbox_attempts (
    message_id  TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    tm_attempt  DATETIME NOT NULL,
    status      INTEGER NOT NULL,
    error       TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (message_id, attempt)
);

-- +goose Down
DROP TABLE outbox_attempts;
DROP TABLE outbox;
ALTER TABLE customers DROP COLUMN tm_update;
ALTER TABLE customers DROP COLUMN webhook_secret;
ALTER TABLE customers DROP COLUMN webhook_method;
ALTER TABLE customers DROP COLUMN webhook_uri;
ALTER TABLE activeflows DROP COLUMN complete_count;
ALTER TABLE activeflows DROP COLUMN on_complete_error;
ALTER TABLE activeflows DROP COLUMN on_complete_activeflow_id;
ALTER TABLE activeflows DROP COLUMN reference_activeflow_id;
ALTER TABLE activeflows DROP COLUMN on_complete_flow_id;
ALTER TABLE activeflows DROP COLUMN webhook_method;
ALTER TABLE activeflows DROP COLUMN webhook_uri;
