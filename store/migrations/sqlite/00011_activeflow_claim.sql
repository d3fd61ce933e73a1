-- +goose Up
-- A report that must send something before it can write its step (a sync webhook_send, a fetch) claims the step
-- first: the claim moves the version on and holds until claim_until, so that a concurrent report of the same step
-- performs nothing. The step's write clears it; a claimer that died lets go when it passes.
ALTER TABLE activeflows ADD COLUMN claim_until DATETIME;

-- +goose Down
ALTER TABLE activeflows DROP COLUMN claim_until;
