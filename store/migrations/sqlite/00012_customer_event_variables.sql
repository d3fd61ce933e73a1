-- +goose Up
-- Whether the events of a customer's activeflows carry their variables: off unless the customer asks, because
-- variables hold what callers typed (a PIN collected by digits_receive).
ALTER TABLE customers ADD COLUMN event_variables BOOLEAN NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE customers DROP COLUMN event_variables;
