-- SMS delivery: each message is sent as one or more parts; each accepted part has the
-- SMSC's message_id, under which delivery receipts come back (possibly in another base).

ALTER TABLE outbox ADD COLUMN concat_ref INTEGER;
ALTER TABLE outbox ADD COLUMN parts_total INTEGER;
-- 1 when a part may have reached the SMSC twice (a submit whose answer never came was sent again).
ALTER TABLE outbox ADD COLUMN duplicate_risk INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN submitted_at TEXT;
ALTER TABLE outbox ADD COLUMN done_at TEXT;

CREATE TABLE outbox_parts (
  id            INTEGER PRIMARY KEY,
  outbox_id     INTEGER NOT NULL REFERENCES outbox(id),
  seq           INTEGER NOT NULL,
  total         INTEGER NOT NULL,
  message_id    TEXT    NOT NULL,
  state         TEXT    NOT NULL DEFAULT 'submitted'
                  CHECK (state IN ('submitted', 'delivered', 'undeliverable', 'expired', 'deleted', 'rejected', 'unknown', 'accepted')),
  error         TEXT,
  submitted_at  TEXT    NOT NULL,
  done_at       TEXT,
  UNIQUE (outbox_id, seq)
);

-- Lookup keys of a part's message_id (its normal forms in decimal and hexadecimal readings).
CREATE TABLE outbox_part_keys (
  key      TEXT    NOT NULL,
  part_id  INTEGER NOT NULL REFERENCES outbox_parts(id)
);
CREATE INDEX outbox_part_keys_key ON outbox_part_keys(key);
-- The dispatcher's queue: due messages by priority; replaces the index of 001.
DROP INDEX outbox_queue;
CREATE INDEX outbox_queue_due ON outbox(state, priority, not_before, id);
CREATE INDEX outbox_queued_expiry ON outbox(expires_at) WHERE state = 'queued' AND expires_at IS NOT NULL;
CREATE INDEX outbox_queued_next ON outbox(not_before) WHERE state = 'queued';
