-- +goose Up
-- What an activeflow runs for, as VoIPbin names it: reference_type "api" (started through the API), "call" (a call
-- of the SIP runner), …, and the id of that call. Event payloads and voipbin.activeflow.reference_* carry them.
ALTER TABLE activeflows ADD COLUMN reference_type TEXT NOT NULL DEFAULT 'api';
ALTER TABLE activeflows ADD COLUMN reference_id TEXT;

-- +goose Down
ALTER TABLE activeflows DROP COLUMN reference_id;
ALTER TABLE activeflows DROP COLUMN reference_type;
