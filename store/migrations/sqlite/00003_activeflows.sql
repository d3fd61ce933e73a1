-- +goose Up
CREATE TABLE activeflows (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    flow_id       TEXT,
    flow_revision INTEGER,
    status        TEXT NOT NULL,
    end_reason    TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    tm_create     DATETIME NOT NULL,
    tm_update     DATETIME,
    tm_end        DATETIME,
    tm_delete     DATETIME
);
CREATE INDEX activeflows_list ON activeflows (customer_id, tm_create DESC, id DESC) WHERE tm_delete IS NULL;

-- +goose Down
DROP TABLE activeflows;
