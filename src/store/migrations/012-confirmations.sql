-- Documents held for the client's confirmation (agreement 5.10): a request that a
-- confirmation rule caught waits here for its code ('awaiting-code'), then for a
-- confirmation call-back or an operator ('pending', 'calling'), until it is confirmed
-- (and executed), refused, or expires. An instance placing the call-back holds the row
-- under a lease, as alarm call-outs are held.
CREATE TABLE holds (
  id            INTEGER PRIMARY KEY,
  client_id     INTEGER NOT NULL REFERENCES clients(id),
  number_id     INTEGER NOT NULL REFERENCES numbers(id),
  object_id     INTEGER NOT NULL REFERENCES objects(id),
  action        TEXT    NOT NULL CHECK (action IN ('arm', 'disarm')),
  channel       TEXT    NOT NULL,
  challenge_id  TEXT    REFERENCES challenges(id),
  reasons       TEXT    NOT NULL,
  state         TEXT    NOT NULL
                  CHECK (state IN ('awaiting-code', 'pending', 'calling', 'confirmed', 'refused', 'expired', 'cancelled')),
  requested_at  TEXT    NOT NULL,
  expires_at    TEXT    NOT NULL,
  holder        TEXT,
  lease_until   TEXT,
  calls         INTEGER NOT NULL DEFAULT 0,
  decided_at    TEXT,
  decided_by    TEXT,
  result        TEXT
);
CREATE UNIQUE INDEX holds_challenge ON holds(challenge_id) WHERE challenge_id IS NOT NULL;
CREATE INDEX holds_open ON holds(state, id) WHERE state IN ('awaiting-code', 'pending', 'calling');
CREATE INDEX holds_client ON holds(client_id, id);
