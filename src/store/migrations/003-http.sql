-- HTTP: client sessions (signed in by a one-time code), operator accounts, and the
-- monitoring centre's events.

CREATE TABLE sessions (
  token_hash     TEXT    PRIMARY KEY,
  number_id      INTEGER NOT NULL REFERENCES numbers(id),
  client_id      INTEGER NOT NULL REFERENCES clients(id),
  channel        TEXT    NOT NULL CHECK (channel IN ('app', 'chat')),
  created_at     TEXT    NOT NULL,
  expires_at     TEXT    NOT NULL,
  last_seen_at   TEXT    NOT NULL,
  revoked_at     TEXT,
  -- the document a chat is waiting a code for
  pending_challenge TEXT
);
CREATE INDEX sessions_number ON sessions(number_id);

CREATE TABLE operators (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  role         TEXT    NOT NULL CHECK (role IN ('operator', 'admin')),
  token_hash   TEXT    NOT NULL UNIQUE,
  created_at   TEXT    NOT NULL,
  disabled_at  TEXT
);

CREATE TABLE monitoring_events (
  id           INTEGER PRIMARY KEY,
  source_id    TEXT    NOT NULL UNIQUE,
  object_code  TEXT    NOT NULL,
  type         TEXT    NOT NULL,
  kind         TEXT,
  zone         INTEGER,
  event_at     TEXT    NOT NULL,
  received_at  TEXT    NOT NULL,
  processed_at TEXT,
  result       TEXT
);
CREATE INDEX monitoring_events_object ON monitoring_events(object_code, event_at);
