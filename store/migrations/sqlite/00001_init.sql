-- +goose Up
-- Timestamps are DATETIME text in one sortable UTC format (the driver's, "2006-01-02 15:04:05.999999999+00:00"),
-- so that comparisons and ORDER BY on them are chronological.
CREATE TABLE customers (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    tm_create DATETIME NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    tm_create     DATETIME NOT NULL,
    tm_update     DATETIME
);
CREATE INDEX users_customer ON users (customer_id);

CREATE TABLE settings (
    key       TEXT PRIMARY KEY,
    value     TEXT NOT NULL,
    tm_create DATETIME NOT NULL
);

CREATE TABLE accesskeys (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    name         TEXT NOT NULL,
    detail       TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    tm_expire    DATETIME NOT NULL,
    tm_create    DATETIME NOT NULL,
    tm_update    DATETIME,
    tm_delete    DATETIME
);
CREATE INDEX accesskeys_list ON accesskeys (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

CREATE TABLE flows (
    id                  TEXT PRIMARY KEY,
    customer_id         TEXT NOT NULL REFERENCES customers (id),
    name                TEXT NOT NULL,
    detail              TEXT NOT NULL,
    actions             TEXT NOT NULL,
    on_complete_flow_id TEXT,
    tm_create           DATETIME NOT NULL,
    tm_update           DATETIME,
    tm_delete           DATETIME
);
CREATE INDEX flows_list ON flows (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start DATETIME NOT NULL,
    hits         INTEGER NOT NULL
);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE flows;
DROP TABLE accesskeys;
DROP TABLE settings;
DROP TABLE users;
DROP TABLE customers;
