-- +goose Up
-- Every change of a flow row is announced on the channel flowbin_flow_changed, by the transaction that makes it:
-- listeners hear of it when it commits, never before, and whoever made it (flowbin, a script, psql). The payload is
-- the flow's id; "*" (after TRUNCATE) means every flow. Instances that cache flows LISTEN to it.
-- +goose StatementBegin
CREATE FUNCTION flowbin_flow_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
