-- +goose Up
-- The flow statistics' sums by hour (store/stats.go): what one flow revision's executions created in an hour that
-- ended within an hour did. A request adds the closed hours of its window from here and computes only the rest
-- from the action rows; executions is how many executions the sum covers, checked on every request.
CREATE TABLE flow_stats_hours (
    flow_id       TEXT NOT NULL,
    flow_revision INTEGER NOT NULL,
    hour          INTEGER NOT NULL,
    customer_id   TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    hour_start    DATETIME NOT NULL,
    hour_end      DATETIME NOT NULL,
    executions    INTEGER NOT NULL,
    data          TEXT NOT NULL,
    tm_update     DATETIME NOT NULL,
    PRIMARY KEY (flow_id, flow_revision, hour)
);

-- +goose Down
DROP TABLE flow_stats_hours;
