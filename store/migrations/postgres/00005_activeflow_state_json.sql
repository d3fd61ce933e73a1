-- +goose Up
-- An activeflow's state is the engine's document (flow.ExecutionVersion), read and written whole: json keeps it
-- byte for byte as flowbin wrote it (options in the order and spelling the client sent), where jsonb would
-- reorder keys and respell numbers, and costs a parse on every step that nothing uses.
ALTER TABLE activeflows ALTER COLUMN state TYPE json USING state::json;

-- +goose Down
ALTER TABLE activeflows ALTER COLUMN state TYPE jsonb USING state::jsonb;
