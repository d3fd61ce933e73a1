-- The SQL of GET /v1.0/flows/{id}: one random flow of customer 1, read by primary key with the scope and the
-- columns flowbin's store uses. Customer 1 owns flows n = 1, 5, 9, … (see bench/flows.go).
\set n 4 * random(1, 25000) - 3
SELECT id, customer_id, name, detail, actions, on_complete_flow_id, revision, tm_create, tm_update, tm_delete
FROM flows
WHERE customer_id = :customer AND tm_delete IS NULL AND id = md5(:n::text)::uuid
LIMIT 1;
