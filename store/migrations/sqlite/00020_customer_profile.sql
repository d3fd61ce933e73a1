-- +goose Up
-- The profile a customer gives itself through PUT /v1.0/customer: see the PostgreSQL migration of the same number.
ALTER TABLE customers ADD COLUMN display_name TEXT;
ALTER TABLE customers ADD COLUMN detail TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN phone_number TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN address TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE customers DROP COLUMN address;
ALTER TABLE customers DROP COLUMN phone_number;
ALTER TABLE customers DROP COLUMN email;
ALTER TABLE customers DROP COLUMN detail;
ALTER TABLE customers DROP COLUMN display_name;
