-- +goose Up
-- Every change of a flow row is announced on the channel flowbin_flow_changed, so that instances which cache flows
-- (LISTEN) drop what changed. The payload is a comma-separated list of flow ids, or "*" for every flow.
--
-- flowbin announces its own changes itself, right after they commit, from a connection whose commits do not wait
-- for the disk: a NOTIFY inside the writing transaction would hold PostgreSQL's notification lock through that
-- transaction's commit, and so serialise every concurrent write. Its connections say so with the setting
-- flowbin.writer, and this trigger then stays quiet. Changes made any other way (psql, scripts) are announced here,
-- when they commit.
-- +goose StatementBegin
CREATE FUNCTION flowbin_flow_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('flowbin.writer', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('flowbin_flow_changed', '*');
    ELSE
        PERFORM pg_notify('flowbin_flow_changed', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER flows_changed AFTER UPDATE OR DELETE ON flows
    FOR EACH ROW EXECUTE FUNCTION flowbin_flow_changed();
CREATE TRIGGER flows_truncated AFTER TRUNCATE ON flows
    FOR EACH STATEMENT EXECUTE FUNCTION flowbin_flow_changed();

-- +goose Down
DROP TRIGGER flows_truncated ON flows;
DROP TRIGGER flows_changed ON flows;
DROP FUNCTION flowbin_flow_changed();
