-- What POST /v1.0/activeflows writes (store/activeflows.go, CreateActiveflow): one activeflow row, every column,
-- with a state document of the size flowbin stores when a call starts (a copy of one flowbin wrote in this run,
-- passed as a parameter so that the server reads it as json on every insert, as it does flowbin's).
INSERT INTO activeflows (id, customer_id, flow_id, flow_revision, status, end_reason, state, version,
                         tm_create, tm_update, tm_end, tm_delete)
VALUES (gen_random_uuid(), :customer, :flow, 1, 'running', '', :state, 1, clock_timestamp(), NULL, NULL, NULL);
