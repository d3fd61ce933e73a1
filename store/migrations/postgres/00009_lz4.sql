-- +goose Up
-- The documents flowbin reads and writes whole (an activeflow's state, a flow's actions) are compressed with lz4
-- when PostgreSQL stores them out of line: several times faster than the default pglz to compress and to read,
-- which every step of a long call does. A server built without lz4 keeps pglz.
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE activeflows ALTER COLUMN state SET COMPRESSION lz4;
    ALTER TABLE flows ALTER COLUMN actions SET COMPRESSION lz4;
    ALTER TABLE flow_revisions ALTER COLUMN actions SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: keeping pglz';
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE activeflows ALTER COLUMN state SET COMPRESSION pglz;
    ALTER TABLE flows ALTER COLUMN actions SET COMPRESSION pglz;
    ALTER TABLE flow_revisions ALTER COLUMN actions SET COMPRESSION pglz;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;
-- +goose StatementEnd
