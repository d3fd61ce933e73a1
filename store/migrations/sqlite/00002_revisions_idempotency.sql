-- +goose Up
ALTER TABLE flows ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;

CREATE TABLE flow_revisions (
    flow_id             TEXT NOT NULL REFERENCES flows (id),
    revision            INTEGER NOT NULL,
    customer_id         TEXT NOT NULL REFERENCES customers (id),
    name                TEXT NOT NULL,
    detail              TEXT NOT NULL,
    actions             TEXT NOT NULL,
    on_complete_flow_id TEXT,
    author_type         TEXT NOT NULL,
    author_id           TEXT NOT NULL,
    author_name         TEXT NOT NULL,
    tm_create           DATETIME NOT NULL,
    PRIMARY KEY (flow_id, revision)
);

INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                            author_type, author_id, author_name, tm_create)
SELECT id, 1, customer_id, name, detail, actions, on_complete_flow_id,
       'user', '00000000-0000-0000-0000-000000000000', '', COALESCE(tm_update, tm_create)
FROM flows;

CREATE TABLE idempotency_keys (
    customer_id     TEXT NOT NULL,
    operation       TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    state           TEXT NOT NULL,
    response_status INTEGER,
    response_header TEXT,
    response_body   BLOB,
    tm_lock         DATETIME NOT NULL,
    tm_expire       DATETIME NOT NULL,
    PRIMARY KEY (customer_id, operation, key)
);
CREATE INDEX idempotency_keys_expire ON idempotency_keys (tm_expire);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE flow_revisions;
ALTER TABLE flows DROP COLUMN revision;
