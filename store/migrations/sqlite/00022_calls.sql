-- +goose Up
-- Real calls (issue 26): the customer's numbers, the flow's direct hash, calls and their recordings.

-- A SIP call to user direct.<hash> runs the flow (VoIPbin's direct calls). NULL until one is made.
ALTER TABLE flows ADD COLUMN direct_hash TEXT;
CREATE UNIQUE INDEX flows_direct_hash ON flows (direct_hash) WHERE direct_hash IS NOT NULL;

-- A number routes incoming calls by the request-URI alone, so a live number belongs to one customer at a time.
CREATE TABLE numbers (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    number          TEXT NOT NULL,
    call_flow_id    TEXT,
    message_flow_id TEXT,
    name            TEXT NOT NULL DEFAULT '',
    detail          TEXT NOT NULL DEFAULT '',
    tm_create       DATETIME NOT NULL,
    tm_update       DATETIME,
    tm_delete       DATETIME
);
CREATE UNIQUE INDEX numbers_live ON numbers (number) WHERE tm_delete IS NULL;
CREATE INDEX numbers_list ON numbers (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

-- A call that flowbin answered or placed. source and destination are VoIPbin's addresses; recording_ids lists
-- the call's recordings, oldest first.
CREATE TABLE calls (
    id             TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL REFERENCES customers (id),
    flow_id        TEXT,
    activeflow_id  TEXT,
    direction      TEXT NOT NULL,
    source         TEXT NOT NULL,
    destination    TEXT NOT NULL,
    status         TEXT NOT NULL,
    hangup_by      TEXT NOT NULL DEFAULT '',
    hangup_reason  TEXT NOT NULL DEFAULT '',
    recording_id   TEXT,
    recording_ids  TEXT NOT NULL DEFAULT '[]',
    tm_ringing     DATETIME,
    tm_progressing DATETIME,
    tm_hangup      DATETIME,
    tm_create      DATETIME NOT NULL,
    tm_update      DATETIME,
    tm_delete      DATETIME
);
CREATE INDEX calls_list ON calls (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

-- A recording of a call; path is its WAV file, relative to the data directory.
CREATE TABLE recordings (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    call_id       TEXT NOT NULL REFERENCES calls (id),
    activeflow_id TEXT,
    status        TEXT NOT NULL,
    format        TEXT NOT NULL,
    path          TEXT NOT NULL,
    tm_start      DATETIME NOT NULL,
    tm_end        DATETIME,
    tm_create     DATETIME NOT NULL,
    tm_update     DATETIME,
    tm_delete     DATETIME
);
CREATE INDEX recordings_list ON recordings (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;
CREATE INDEX recordings_call ON recordings (call_id);

-- +goose Down
DROP TABLE recordings;
DROP TABLE calls;
DROP TABLE numbers;
DROP INDEX flows_direct_hash;
ALTER TABLE flows DROP COLUMN direct_hash;
