-- Alarm panels that report straight to the receiver (as SQLite's migration 013).
CREATE TABLE panel_accounts (
  account        text    COLLATE "C" PRIMARY KEY,
  object_id      bigint  NOT NULL UNIQUE REFERENCES objects(id),
  key_sealed     text    COLLATE "C",
  supervision_s  integer NOT NULL CHECK (supervision_s > 0),
  link           text    COLLATE "C" NOT NULL DEFAULT 'up' CHECK (link IN ('up', 'lost')),
  last_seen_at   text    COLLATE "C",
  due_ms         bigint  NOT NULL,
  lost_at        text    COLLATE "C",
  last_frame     text    COLLATE "C",
  last_frame_ms  bigint,
  created_at     text    COLLATE "C" NOT NULL,
  updated_at     text    COLLATE "C" NOT NULL,
  updated_by     text    COLLATE "C"
);
CREATE INDEX panel_accounts_due ON panel_accounts(link, due_ms);
