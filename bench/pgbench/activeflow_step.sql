-- What POST /v1.0/activeflows/{id}/next does to the activeflow's row (store/activeflows.go: GetActiveflow, then
-- the update of WriteActiveflows), in one transaction: read a running activeflow whole, then write its new state
-- (of the size flowbin writes in an average step of the IVR call, a copy of one it wrote in this run: since the
-- stored format version 2, the hot state) if its version is still the one read. flowbin's step also appends its
-- executed actions as rows, in the update's statement; this reference does not. The rows are bench's own (:rows
-- of them, ids md5('step' || n)), seeded with such a state.
\set n random(1, :rows)
BEGIN;
SELECT id, customer_id, flow_id, flow_revision, status, end_reason, state, version, tm_create, tm_update, tm_end,
       tm_delete
FROM activeflows
WHERE customer_id = :customer AND tm_delete IS NULL AND id = md5('step' || :n)::uuid
LIMIT 1 \gset
UPDATE activeflows
SET status = 'running', end_reason = '', state = :newstate, version = :version + 1, tm_update = clock_timestamp(),
    tm_end = NULL, tm_delete = NULL
WHERE customer_id = :customer AND tm_delete IS NULL AND id = md5('step' || :n)::uuid AND version = :version;
COMMIT;
