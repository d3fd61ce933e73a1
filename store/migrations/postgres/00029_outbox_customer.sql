-- +goose Up
-- GET /v1.0/events lists a customer's messages newest first, paged by tm_create.
CREATE INDEX outbox_customer ON outbox (customer_id, tm_create DESC, id DESC);

-- +goose Down
DROP INDEX outbox_customer;
