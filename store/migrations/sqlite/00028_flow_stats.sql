-- +goose Up
-- The flow statistics (GET /v1.0/flows/{id}/stats) read one flow revision's activeflows created in a window:
-- this index finds them without reading the customer's other activeflows. Their action rows are then read by
-- activeflow_actions' primary key.
CREATE INDEX activeflows_flow_stats ON activeflows (flow_id, flow_revision, tm_create) WHERE tm_delete IS NULL;

-- +goose Down
DROP INDEX activeflows_flow_stats;
