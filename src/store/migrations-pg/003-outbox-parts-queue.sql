-- A part's message_id is found by one key kept in its row (its normal form: trimmed, lower
-- case, no leading zeros); a receipt in another base is looked up by its value written in
-- the other base. One row per part instead of a part and its keys.
ALTER TABLE outbox_parts ADD COLUMN id_key text COLLATE "C";
UPDATE outbox_parts p SET id_key = substr(k.key, 3) FROM outbox_part_keys k WHERE k.part_id = p.id AND k.key LIKE 's:%';
UPDATE outbox_parts SET id_key = lower(trim(message_id)) WHERE id_key IS NULL;
CREATE INDEX outbox_parts_id_key ON outbox_parts(id_key);
DROP TABLE outbox_part_keys;

-- The dispatcher's queue in the order it claims (most urgent first, then oldest): a claim
-- walks the index and stops after its batch, however long the queue, instead of sorting every
-- queued message of the most urgent priority.
DROP INDEX outbox_queue_due;
CREATE INDEX outbox_queue_due ON outbox(state, priority, id, not_before);
-- Messages being sent are found through the same index (state = 'sending': at most the
-- in-flight window of each instance), so a claim, a renewal and an outcome no longer each
-- move an entry of an index of their own.
DROP INDEX outbox_sending_lease;
