-- +goose Up
-- The stored format version 2 (docs/execution.md): the actions an activeflow executed are rows of their own,
-- appended with the step that ran them, instead of a list inside the state document that every step decoded,
-- re-encoded and wrote back whole. executed is the whole flow.Executed record, as version 1 kept it in the
-- document's "executed"; the other columns repeat what reports group by (the stats read them with activeflows).
-- flow_id and flow_revision are those of the flow the ACTION belongs to (its frame's), NULL for inline actions
-- and those a fetch returned. The rows go with their activeflow when its row is deleted.
CREATE TABLE activeflow_actions (
    activeflow_id uuid NOT NULL REFERENCES activeflows (id) ON DELETE CASCADE,
    step          integer NOT NULL,
    customer_id   uuid NOT NULL,
    flow_id       uuid,
    flow_revision integer,
    action_id     uuid NOT NULL,
    action_type   text NOT NULL,
    executed      json NOT NULL,
    tm_execute    timestamptz NOT NULL,
    PRIMARY KEY (activeflow_id, step)
);
CREATE INDEX activeflow_actions_flow ON activeflow_actions (flow_id, flow_revision, tm_execute);

-- +goose Down
DROP TABLE activeflow_actions;
