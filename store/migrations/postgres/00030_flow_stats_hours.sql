-- +goose Up
-- The flow statistics' sums by hour (store/stats.go): what one flow revision's executions created in an hour that
-- ended within an hour did, as the statistics' statement computes it from their action rows. A request adds the
-- closed hours of its window from here and computes only the rest (the window's partial and recent hours, the
-- executions still running or that lasted longer) from the rows, so that its cost follows those, not the window.
-- hour counts the hours since 1970 (UTC), [hour_start, hour_end). executions is how many executions the sum
-- covers: a request that counts a different number (one was deleted) computes the hour again.
CREATE TABLE flow_stats_hours (
    flow_id       uuid NOT NULL,
    flow_revision integer NOT NULL,
    hour          bigint NOT NULL,
    customer_id   uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    hour_start    timestamptz NOT NULL,
    hour_end      timestamptz NOT NULL,
    executions    integer NOT NULL,
    data          text NOT NULL,
    tm_update     timestamptz NOT NULL,
    PRIMARY KEY (flow_id, flow_revision, hour)
);

-- +goose Down
DROP TABLE flow_stats_hours;
