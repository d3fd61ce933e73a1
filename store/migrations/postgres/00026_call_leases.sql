-- +goose Up
-- The lease of a call (issue 26): the instance whose runner carries a call renews lease_until of all its calls in
-- one UPDATE, periodically. A call that has not hung up and whose lease has expired lost its instance (a crash, a
-- kill): any instance ends it (hangup_reason failed), with its activeflow and recordings, once.
ALTER TABLE calls ADD COLUMN runner_id uuid;
ALTER TABLE calls ADD COLUMN lease_until timestamptz;
-- The renewal (by runner) and the search for expired leases read only calls that have not hung up.
CREATE INDEX calls_runner ON calls (runner_id) WHERE status <> 'hangup';
CREATE INDEX calls_lease ON calls (lease_until) WHERE status <> 'hangup';

-- +goose Down
DROP INDEX calls_lease;
DROP INDEX calls_runner;
ALTER TABLE calls DROP COLUMN lease_until;
ALTER TABLE calls DROP COLUMN runner_id;
