-- Alarm panels that report straight to the receiver (SIA DC-09): one account per object.
-- `key_sealed` is the account's AES key sealed under the service secret (never in clear);
-- null when the panel sends in clear. Supervision: the panel is due to be heard from by
-- `due_ms` (epoch milliseconds: its last message, or when it was registered, plus
-- `supervision_s`); past that its link is 'lost' until a message arrives again.
-- `last_frame` identifies the last event report kept (sequence and content, not the time):
-- a panel that did not get its ACK sends that frame again, to this receiver or another.
CREATE TABLE panel_accounts (
  account        TEXT    PRIMARY KEY,
  object_id      INTEGER NOT NULL UNIQUE REFERENCES objects(id),
  key_sealed     TEXT,
  supervision_s  INTEGER NOT NULL CHECK (supervision_s > 0),
  link           TEXT    NOT NULL DEFAULT 'up' CHECK (link IN ('up', 'lost')),
  last_seen_at   TEXT,
  due_ms         INTEGER NOT NULL,
  lost_at        TEXT,
  last_frame     TEXT,
  last_frame_ms  INTEGER,
  created_at     TEXT    NOT NULL,
  updated_at     TEXT    NOT NULL,
  updated_by     TEXT
);
CREATE INDEX panel_accounts_due ON panel_accounts(link, due_ms);
