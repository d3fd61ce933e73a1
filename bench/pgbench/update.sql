-- The SQL of PUT /v1.0/flows/{id} on PostgreSQL (store/flows.go, updateFlowPostgres), statement for statement: a
-- random flow of customer 1 gets a new name, detail and actions and its revision is bumped, if the If-Match
-- condition holds (none here: any revision) and the definition changes; its new revision is written in the same
-- statement (one transaction). Every update has a name of its own, as flowbin's PUTs do, so every one writes.
\set n 4 * random(1, 25000) - 3
\set r random(1, 2000000000)
WITH f AS (
    UPDATE flows
    SET name = CAST(:name AS text) || :r, detail = :detail, actions = :actions, on_complete_flow_id = NULL,
        revision = revision + 1, tm_update = clock_timestamp()
    WHERE id = md5(:n::text)::uuid AND customer_id = :customer AND tm_delete IS NULL
      AND (CAST(:any AS boolean) OR revision = ANY(CAST(:revisions AS integer[])))
      AND NOT (name = CAST(:name AS text) || :r AND detail = :detail AND actions = CAST(:actions AS jsonb)
               AND on_complete_flow_id IS NOT DISTINCT FROM CAST(NULL AS uuid))
    RETURNING id, customer_id, revision, tm_create, name, detail, actions, on_complete_flow_id
), r AS (
    INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                                author_type, author_id, author_name, tm_create)
    SELECT id, revision, customer_id, name, detail, actions, on_complete_flow_id,
           'user', :author, 'bench', clock_timestamp() FROM f
)
SELECT revision, tm_create FROM f;
