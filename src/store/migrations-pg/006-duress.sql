-- A client's duress code (as SQLite's migration 011): only its HMAC (bound to the client),
-- never the code; a cleared code keeps the row with no hash and both times.
CREATE TABLE duress_codes (
  client_id   bigint  PRIMARY KEY REFERENCES clients(id),
  code_hash   bytea   CHECK (code_hash IS NULL OR length(code_hash) = 32),
  set_at      text    COLLATE "C",
  cleared_at  text    COLLATE "C",
  changed_by  text    COLLATE "C" NOT NULL
);
