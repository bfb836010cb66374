-- A part's message_id is found by one key kept in its row (its normal form: trimmed, lower
-- case, no leading zeros); a receipt in another base is looked up by its value written in
-- the other base. One row per part instead of a part and its keys.
ALTER TABLE outbox_parts ADD COLUMN id_key text COLLATE "C";
UPDATE outbox_parts p SET id_key = substr(k.key, 3) FROM outbox_part_keys k WHERE k.part_id = p.id AND k.key LIKE 's:%';
UPDATE outbox_parts SET id_key = lower(trim(message_id)) WHERE id_key IS NULL;
CREATE INDEX outbox_parts_id_key ON outbox_parts(id_key);
DROP TABLE outbox_part_keys;
