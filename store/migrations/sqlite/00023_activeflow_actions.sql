-- +goose Up
-- The stored format version 2 (docs/execution.md): the actions an activeflow executed are rows of their own,
-- appended with the step that ran them, instead of a list inside the state document. executed is the whole
-- flow.Executed record, as version 1 kept it in the document's "executed"; flow_id and flow_revision are those of
-- the flow the ACTION belongs to, NULL for inline actions and those a fetch returned.
CREATE TABLE activeflow_actions (
    activeflow_id TEXT NOT NULL REFERENCES activeflows (id) ON DELETE CASCADE,
    step          INTEGER NOT NULL,
    customer_id   TEXT NOT NULL,
    flow_id       TEXT,
    flow_revision INTEGER,
    action_id     TEXT NOT NULL,
    action_type   TEXT NOT NULL,
    executed      TEXT NOT NULL,
    tm_execute    DATETIME NOT NULL,
    PRIMARY KEY (activeflow_id, step)
);
CREATE INDEX activeflow_actions_flow ON activeflow_actions (flow_id, flow_revision, tm_execute);

-- +goose Down
DROP TABLE activeflow_actions;
