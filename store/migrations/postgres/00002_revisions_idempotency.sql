-- +goose Up
ALTER TABLE flows ADD COLUMN revision integer NOT NULL DEFAULT 1;

-- Every create, update and restore of a flow writes an immutable revision with the whole definition.
CREATE TABLE flow_revisions (
    flow_id             uuid NOT NULL REFERENCES flows (id),
    revision            integer NOT NULL,
    customer_id         uuid NOT NULL REFERENCES customers (id),
    name                text NOT NULL,
    detail              text NOT NULL,
    actions             jsonb NOT NULL,
    on_complete_flow_id uuid,
    author_type         text NOT NULL,
    author_id           uuid NOT NULL,
    author_name         text NOT NULL,
    tm_create           timestamptz NOT NULL,
    PRIMARY KEY (flow_id, revision)
);

-- Flows created before revisions existed start their history at revision 1.
INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                            author_type, author_id, author_name, tm_create)
SELECT id, 1, customer_id, name, detail, actions, on_complete_flow_id,
       'user', '00000000-0000-0000-0000-000000000000', '', COALESCE(tm_update, tm_create)
FROM flows;

-- The first answer to a request with an Idempotency-Key, kept for replays (24 h).
CREATE TABLE idempotency_keys (
    customer_id     uuid NOT NULL,
    operation       text NOT NULL,
    key             text NOT NULL,
    request_hash    text NOT NULL,
    state           text NOT NULL, -- pending: the first request runs; done: its answer is below
    response_status integer,
    response_header text,
    response_body   bytea,
    tm_lock         timestamptz NOT NULL, -- when the running request claimed the key
    tm_expire       timestamptz NOT NULL,
    PRIMARY KEY (customer_id, operation, key)
);
CREATE INDEX idempotency_keys_expire ON idempotency_keys (tm_expire);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE flow_revisions;
ALTER TABLE flows DROP COLUMN revision;
