-- The SQL of POST /v1.0/flows: a new flow of customer 1 and its revision 1, committed together as flowbin
-- commits them, but in one statement (one round trip) instead of four. The actions JSON comes in as a parameter
-- (pgbench -D actions=…), so that the server parses it on every insert, as it does for flowbin's.
WITH f AS (
    INSERT INTO flows (id, customer_id, name, detail, actions, on_complete_flow_id, revision, tm_create)
    VALUES (gen_random_uuid(), :customer, :name, :detail, :actions, NULL, 1, clock_timestamp())
    RETURNING id, revision, customer_id, name, detail, actions, tm_create
)
INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                            author_type, author_id, author_name, tm_create)
SELECT id, revision, customer_id, name, detail, actions, NULL, 'user', :author, 'bench', tm_create FROM f;
