-- +goose Up
-- The stored format version 2: the action lists an activeflow runs that no flow revision holds (inline actions,
-- those a fetch returned, and the lists a version 1 state had copied) are stored once, when their frame is
-- created, and named in the state by frame_key. A flow's frame names its flow's revision instead.
CREATE TABLE activeflow_frames (
    activeflow_id TEXT NOT NULL REFERENCES activeflows (id) ON DELETE CASCADE,
    frame_key     INTEGER NOT NULL,
    source        TEXT NOT NULL,
    actions       TEXT NOT NULL,
    PRIMARY KEY (activeflow_id, frame_key)
);

-- +goose Down
DROP TABLE activeflow_frames;
