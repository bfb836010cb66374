-- One-time codes: sends counted by class (sign-in / action), operators' settings shared by
-- every process, and code floods noted once per window.

-- Sends made before this version counted every purpose together; they stay as 'action'.
ALTER TABLE otp_sends ADD COLUMN class TEXT NOT NULL DEFAULT 'action' CHECK (class IN ('sign-in', 'action'));
DROP INDEX otp_sends_phone;
CREATE INDEX otp_sends_phone ON otp_sends(phone, class, sent_at);

-- Operators' settings (e.g. 'otp.ceiling_per_hour'): one row per key, read at each use.
CREATE TABLE settings (
  key         TEXT PRIMARY KEY,
  value       TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  updated_by  TEXT
) WITHOUT ROWID;

-- A number whose code budget of one class was used up: one row (and one operator alert) per
-- number, class and window.
CREATE TABLE otp_floods (
  phone     TEXT    NOT NULL,
  class     TEXT    NOT NULL CHECK (class IN ('sign-in', 'action')),
  at        TEXT    NOT NULL,
  alert_id  INTEGER
);
CREATE INDEX otp_floods_phone ON otp_floods(phone, class, at);
