-- +goose Up
-- What an activeflow needs to call back: VoIPbin's webhook fields, and its place in an on_complete_flow_id chain.
ALTER TABLE activeflows ADD COLUMN webhook_uri text NOT NULL DEFAULT '';
ALTER TABLE activeflows ADD COLUMN webhook_method text NOT NULL DEFAULT '';
ALTER TABLE activeflows ADD COLUMN on_complete_flow_id uuid;
ALTER TABLE activeflows ADD COLUMN reference_activeflow_id uuid;
ALTER TABLE activeflows ADD COLUMN on_complete_activeflow_id uuid;
ALTER TABLE activeflows ADD COLUMN on_complete_error text NOT NULL DEFAULT '';
ALTER TABLE activeflows ADD COLUMN complete_count integer NOT NULL DEFAULT 0;

-- The customer's webhook: where its events go, and the secret they are signed with (sealed under the server's
-- secret: a backup alone cannot sign).
ALTER TABLE customers ADD COLUMN webhook_uri text NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN webhook_method text NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN webhook_secret text NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN tm_update timestamptz;

-- The outbox: every request flowbin owes a customer's system (an activeflow's events, webhook_send without sync),
-- written in the transaction of the change that caused it and delivered at least once by any instance. id is the
-- message's id (webhook-id), the same on every attempt. A row is leased while an instance delivers it.
CREATE TABLE outbox (
    id            uuid PRIMARY KEY,
    customer_id   uuid NOT NULL REFERENCES customers (id),
    activeflow_id uuid NOT NULL,
    event_type    text NOT NULL,
    url           text NOT NULL,
    method        text NOT NULL,
    content_type  text NOT NULL,
    payload       text NOT NULL,
    signed        boolean NOT NULL,
    state         text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    next_attempt  timestamptz NOT NULL,
    lease_until   timestamptz,
    tm_create     timestamptz NOT NULL,
    tm_update     timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'pending';
CREATE INDEX outbox_activeflow ON outbox (activeflow_id, tm_create, id);

CREATE TABLE outbox_attempts (
    message_id  uuid NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    tm_attempt  timestamptz NOT NULL,
    status      integer NOT NULL,
    error       text NOT NULL,
    duration_ms integer NOT NULL,
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
