-- +goose Up
-- The profile a customer gives itself through PUT /v1.0/customer, as VoIPbin's customer has it. display_name is
-- NULL until the customer sets a name: the API then answers the customer's own name (the operator's, which
-- `flowbin user add --customer` refers to and which does not change).
ALTER TABLE customers ADD COLUMN display_name text;
ALTER TABLE customers ADD COLUMN detail text NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN email text NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN phone_number text NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN address text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE customers DROP COLUMN address;
ALTER TABLE customers DROP COLUMN phone_number;
ALTER TABLE customers DROP COLUMN email;
ALTER TABLE customers DROP COLUMN detail;
ALTER TABLE customers DROP COLUMN display_name;
