-- +goose Up
-- Fair delivery: a message's destination (its URL's scheme://host:port) lets claims give each customer, and each
-- of its destinations, a bounded share of the deliverers, and lets a destination that does not answer be backed
-- off as a whole instead of message by message. Messages written before this migration group by their URL.
ALTER TABLE outbox ADD COLUMN destination TEXT NOT NULL DEFAULT '';
UPDATE outbox SET destination = url;
-- A destination's waiting messages, oldest first (a claim reads the first few of each), and a customer's (its cap).
CREATE INDEX outbox_pending_head ON outbox (customer_id, destination, next_attempt, id) WHERE state = 'pending';
-- What is in flight (each share): few rows, since a lease ends with its attempt.
CREATE INDEX outbox_leased ON outbox (customer_id, destination) WHERE state = 'pending' AND lease_until IS NOT NULL;

-- Every destination a customer's messages go to: claims walk these (few) rows instead of the messages (many), so
-- a claim costs the same whatever one destination has waiting. A destination that did not answer (no answer, a
-- timeout, 408, 429 or 5xx) is skipped until blocked_until, whichever instance asks; failures doubles the wait,
-- an answer resets it. last_claim makes destinations take turns.
CREATE TABLE outbox_destinations (
    customer_id   TEXT NOT NULL,
    destination   TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    blocked_until DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00+00:00',
    last_claim    DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00+00:00',
    PRIMARY KEY (customer_id, destination)
);
INSERT INTO outbox_destinations (customer_id, destination)
    SELECT DISTINCT customer_id, destination FROM outbox WHERE state = 'pending';

-- +goose Down
DROP TABLE outbox_destinations;
DROP INDEX outbox_leased;
DROP INDEX outbox_pending_head;
ALTER TABLE outbox DROP COLUMN destination;
