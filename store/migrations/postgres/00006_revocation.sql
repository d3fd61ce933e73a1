-- +goose Up
-- Revocation of login tokens. Every token carries its user's token_generation when it was issued; changing the
-- password, logging the user out everywhere or disabling them bumps it, and the tokens issued before stop working.
-- A disabled user (tm_disable set) can neither log in nor use the access keys they created.
ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN tm_disable timestamptz;

-- The user who created an access key (NULL: a key created before this migration, which belongs to its customer
-- alone). Not a foreign key: a removed user's keys stay, refused, until deleted.
ALTER TABLE accesskeys ADD COLUMN user_id uuid;

-- Answers to POST /v1.0/accesskeys kept for Idempotency-Key replays held the raw key in clear; from now on
-- every kept answer is sealed (AES-GCM under a key derived from the server secret). The clear ones go.
DELETE FROM idempotency_keys WHERE operation = 'POST /v1.0/accesskeys';

-- Every change of a user row is announced on flowbin_user_changed when it commits (payload: the user's id, or
-- "*" for every user), so that every instance forgets what it remembered of the user's tokens. Unlike flows
-- (00004), users change rarely: the notification is sent by the writing transaction itself, whoever writes.
-- +goose StatementBegin
CREATE FUNCTION flowbin_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('flowbin_user_changed', '*');
    ELSE
        PERFORM pg_notify('flowbin_user_changed', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION flowbin_user_changed();
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION flowbin_user_changed();

-- +goose Down
DROP TRIGGER users_truncated ON users;
DROP TRIGGER users_changed ON users;
DROP FUNCTION flowbin_user_changed();
ALTER TABLE accesskeys DROP COLUMN user_id;
ALTER TABLE users DROP COLUMN tm_disable;
ALTER TABLE users DROP COLUMN token_generation;
