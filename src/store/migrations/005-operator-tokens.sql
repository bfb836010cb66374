-- Operators' tokens expire and can be revoked. `token_expires_at` is set when a token is
-- issued (add or rotate); `last_used_at` is refreshed at most once a minute. Tokens issued
-- before this version get 90 days from the upgrade.
--
-- operators_revision counts every change to who may sign in (token, state, role, removal):
-- a service compares it cheaply to end the event streams of a revoked operator at once, also
-- when the change was made by another process (the command line).

ALTER TABLE operators ADD COLUMN token_expires_at TEXT;
ALTER TABLE operators ADD COLUMN token_issued_at TEXT;
ALTER TABLE operators ADD COLUMN last_used_at TEXT;

UPDATE operators
   SET token_issued_at = created_at,
       token_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+90 days');

CREATE TABLE operators_revision (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  revision  INTEGER NOT NULL
);
INSERT INTO operators_revision (id, revision) VALUES (1, 0);

CREATE TRIGGER operators_revision_update AFTER UPDATE OF token_hash, disabled_at, role, token_expires_at ON operators
BEGIN
  UPDATE operators_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER operators_revision_delete AFTER DELETE ON operators
BEGIN
  UPDATE operators_revision SET revision = revision + 1 WHERE id = 1;
END;
