-- The call history: one row per call of the phone channel (incoming calls to the robot,
-- alarm call-outs, other call-outs), written when the call starts and when it ends. A row
-- without an end is a call that was never finished (the process stopped during it).
-- `id` is the ARI channel id; `seq` orders the history (newest first) and pages it.
CREATE TABLE calls (
  seq          INTEGER PRIMARY KEY,
  id           TEXT    NOT NULL UNIQUE,
  direction    TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
  purpose      TEXT    NOT NULL,
  phone        TEXT,
  client_id    INTEGER,
  object_code  TEXT,
  started_at   TEXT    NOT NULL,
  answered_at  TEXT,
  ended_at     TEXT,
  outcome      TEXT,
  -- what was done on the call, in order: a JSON array of short texts
  actions      TEXT    NOT NULL DEFAULT '[]',
  event_id     INTEGER,
  round        INTEGER
);
CREATE INDEX calls_started ON calls(started_at);
CREATE INDEX calls_object ON calls(object_code, seq);
CREATE INDEX calls_phone ON calls(phone, seq);
CREATE INDEX calls_purpose ON calls(purpose, seq);
