-- +goose Up
-- Fair delivery: a message's destination (its URL's scheme://host:port) lets claims give each customer, and each
-- of its destinations, a bounded share of the deliverers, and lets a destination that does not answer be backed
-- off as a whole instead of message by message. Messages written before this migration group by their URL.
ALTER TABLE outbox ADD COLUMN destination text NOT NULL DEFAULT '';
UPDATE outbox SET destination = url;
-- What a customer has waiting (its cap), and what is in flight (its share; few rows: leases end with the attempt).
CREATE INDEX outbox_customer_pending ON outbox (customer_id) WHERE state = 'pending';
CREATE INDEX outbox_leased ON outbox (customer_id, destination) WHERE state = 'pending' AND lease_until IS NOT NULL;

-- A destination that did not answer (no answer, a timeout, 408, 429 or 5xx): none of its customer's messages to
-- it are claimed before blocked_until, whichever instance asks. failures doubles the wait; an answer clears it.
CREATE TABLE outbox_destinations (
    customer_id   uuid NOT NULL,
    destination   text NOT NULL,
    failures      integer NOT NULL,
    blocked_until timestamptz NOT NULL,
    PRIMARY KEY (customer_id, destination)
);

-- +goose Down
DROP TABLE outbox_destinations;
DROP INDEX outbox_leased;
DROP INDEX outbox_customer_pending;
ALTER TABLE outbox DROP COLUMN destination;
