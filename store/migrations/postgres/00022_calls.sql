-- +goose Up
-- Real calls (issue 26): the customer's numbers, the flow's direct hash, calls and their recordings.

-- A SIP call to user direct.<hash> runs the flow (VoIPbin's direct calls). NULL until one is made.
ALTER TABLE flows ADD COLUMN direct_hash text;
CREATE UNIQUE INDEX flows_direct_hash ON flows (direct_hash) WHERE direct_hash IS NOT NULL;

-- A number routes incoming calls by the request-URI alone, so a live number belongs to one customer at a time.
CREATE TABLE numbers (
    id              uuid PRIMARY KEY,
    customer_id     uuid NOT NULL REFERENCES customers (id),
    number          text NOT NULL,
    call_flow_id    uuid,
    message_flow_id uuid,
    name            text NOT NULL DEFAULT '',
    detail          text NOT NULL DEFAULT '',
    tm_create       timestamptz NOT NULL,
    tm_update       timestamptz,
    tm_delete       timestamptz
);
CREATE UNIQUE INDEX numbers_live ON numbers (number) WHERE tm_delete IS NULL;
CREATE INDEX numbers_list ON numbers (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

-- A call that flowbin answered or placed. source and destination are VoIPbin's addresses; recording_ids lists
-- the call's recordings, oldest first.
CREATE TABLE calls (
    id             uuid PRIMARY KEY,
    customer_id    uuid NOT NULL REFERENCES customers (id),
    flow_id        uuid,
    activeflow_id  uuid,
    direction      text NOT NULL,
    source         jsonb NOT NULL,
    destination    jsonb NOT NULL,
    status         text NOT NULL,
    hangup_by      text NOT NULL DEFAULT '',
    hangup_reason  text NOT NULL DEFAULT '',
    recording_id   uuid,
    recording_ids  jsonb NOT NULL DEFAULT '[]',
    tm_ringing     timestamptz,
    tm_progressing timestamptz,
    tm_hangup      timestamptz,
    tm_create      timestamptz NOT NULL,
    tm_update      timestamptz,
    tm_delete      timestamptz
);
CREATE INDEX calls_list ON calls (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

-- A recording of a call; path is its WAV file, relative to the data directory.
CREATE TABLE recordings (
    id            uuid PRIMARY KEY,
    customer_id   uuid NOT NULL REFERENCES customers (id),
    call_id       uuid NOT NULL REFERENCES calls (id),
    activeflow_id uuid,
    status        text NOT NULL,
    format        text NOT NULL,
    path          text NOT NULL,
    tm_start      timestamptz NOT NULL,
    tm_end        timestamptz,
    tm_create     timestamptz NOT NULL,
    tm_update     timestamptz,
    tm_delete     timestamptz
);
CREATE INDEX recordings_list ON recordings (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;
CREATE INDEX recordings_call ON recordings (call_id);

-- +goose Down
DROP TABLE recordings;
DROP TABLE calls;
DROP TABLE numbers;
DROP INDEX flows_direct_hash;
ALTER TABLE flows DROP COLUMN direct_hash;
