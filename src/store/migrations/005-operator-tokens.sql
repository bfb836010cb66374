-- Operators' tokens expire and can be revoked. `token_expires_at` is set when a token is
-- issued (add or rotate); `last_used_at` is refreshed at most once a minute. Tokens issued
-- before this version get 90 days from the upgrade.

ALTER TABLE operators ADD COLUMN token_expires_at TEXT;
ALTER TABLE operators ADD COLUMN token_issued_at TEXT;
ALTER TABLE operators ADD COLUMN last_used_at TEXT;

UPDATE operators
   SET token_issued_at = created_at,
       token_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+90 days');

