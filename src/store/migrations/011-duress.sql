-- A client's duress code: only its HMAC (bound to the client), never the code. One row per
-- client who ever had one; a cleared code keeps the row with no hash, and both the time it
-- was last set and the time it was last cleared.
CREATE TABLE duress_codes (
  client_id   INTEGER PRIMARY KEY REFERENCES clients(id),
  code_hash   BLOB CHECK (code_hash IS NULL OR length(code_hash) = 32),
  set_at      TEXT,
  cleared_at  TEXT,
  changed_by  TEXT NOT NULL
);
