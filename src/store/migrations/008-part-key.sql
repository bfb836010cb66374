-- A part's message_id is found by one key kept in its row (its normal form: trimmed, lower
-- case, no leading zeros); a receipt in another base is looked up by its value written in
-- the other base. One row per part instead of a part and its keys.
ALTER TABLE outbox_parts ADD COLUMN id_key TEXT;
UPDATE outbox_parts SET id_key = (SELECT substr(k.key, 3) FROM outbox_part_keys k WHERE k.part_id = outbox_parts.id AND k.key LIKE 's:%' LIMIT 1);
UPDATE outbox_parts SET id_key = lower(trim(message_id)) WHERE id_key IS NULL;
CREATE INDEX outbox_parts_id_key ON outbox_parts(id_key);
DROP TABLE outbox_part_keys;
