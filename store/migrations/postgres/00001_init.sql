-- +goose Up
CREATE TABLE customers (
    id        uuid PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    tm_create timestamptz NOT NULL
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    customer_id   uuid NOT NULL REFERENCES customers (id),
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    tm_create     timestamptz NOT NULL,
    tm_update     timestamptz
);
CREATE INDEX users_customer ON users (customer_id);

-- settings holds values that every instance must agree on, such as the generated token signing secret.
CREATE TABLE settings (
    key       text PRIMARY KEY,
    value     text NOT NULL,
    tm_create timestamptz NOT NULL
);

CREATE TABLE accesskeys (
    id           uuid PRIMARY KEY,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    name         text NOT NULL,
    detail       text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    token_prefix text NOT NULL,
    tm_expire    timestamptz NOT NULL,
    tm_create    timestamptz NOT NULL,
    tm_update    timestamptz,
    tm_delete    timestamptz
);
CREATE INDEX accesskeys_list ON accesskeys (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

CREATE TABLE flows (
    id                  uuid PRIMARY KEY,
    customer_id         uuid NOT NULL REFERENCES customers (id),
    name                text NOT NULL,
    detail              text NOT NULL,
    actions             jsonb NOT NULL,
    on_complete_flow_id uuid,
    tm_create           timestamptz NOT NULL,
    tm_update           timestamptz,
    tm_delete           timestamptz
);
-- Keyset paging: newest first within a customer, live flows only.
CREATE INDEX flows_list ON flows (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

-- Fixed-window counters for rate limits, shared by every instance.
CREATE TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE flows;
DROP TABLE accesskeys;
DROP TABLE settings;
DROP TABLE users;
DROP TABLE customers;
