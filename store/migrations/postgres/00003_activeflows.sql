-- +goose Up
-- An activeflow is one execution of a flow (or of inline actions). It copies the actions it runs, so later
-- changes of the flow never reach it; state holds the whole execution (engine data, as JSON).
CREATE TABLE activeflows (
    id            uuid PRIMARY KEY,
    customer_id   uuid NOT NULL REFERENCES customers (id),
    flow_id       uuid,
    flow_revision integer,
    status        text NOT NULL,
    end_reason    text NOT NULL DEFAULT '',
    state         jsonb NOT NULL,
    version       integer NOT NULL, -- bumped by every advance: two runners cannot advance one execution twice
    tm_create     timestamptz NOT NULL,
    tm_update     timestamptz,
    tm_end        timestamptz,
    tm_delete     timestamptz
);
CREATE INDEX activeflows_list ON activeflows (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

-- +goose Down
DROP TABLE activeflows;
