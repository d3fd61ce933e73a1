-- +goose Up
-- Revocation of login tokens: see the PostgreSQL migration of the same number. (On SQLite every writer is on
-- this machine and the server reads a user's generation from the file on every request: no announcements.)
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN tm_disable DATETIME;
ALTER TABLE accesskeys ADD COLUMN user_id TEXT;
DELETE FROM idempotency_keys WHERE operation = 'POST /v1.0/accesskeys';

-- +goose Down
ALTER TABLE accesskeys DROP COLUMN user_id;
ALTER TABLE users DROP COLUMN tm_disable;
ALTER TABLE users DROP COLUMN token_generation;
