-- Alarms, operator alerts, billing periods and tariffs by period.

-- The status an object had before an alarm or a loss of link, to return to on restore.
ALTER TABLE objects ADD COLUMN prior_status TEXT;
ALTER TABLE monitoring_events ADD COLUMN zone_key TEXT;
-- Call-outs to make for an alarm: 'pending' until the service (which holds the ARI link) takes them.
ALTER TABLE monitoring_events ADD COLUMN callout_state TEXT;
CREATE INDEX monitoring_events_callouts ON monitoring_events(callout_state) WHERE callout_state IS NOT NULL;

-- Alerts for the monitoring centre's operators (nobody acknowledged an alarm, suspected
-- unauthorised access, a broken journal, a failed backup).
CREATE TABLE alerts (
  id              INTEGER PRIMARY KEY,
  kind            TEXT    NOT NULL,
  client_id       INTEGER,
  object_code     TEXT,
  phone           TEXT,
  detail          TEXT,
  created_at      TEXT    NOT NULL,
  acknowledged_at TEXT,
  acknowledged_by TEXT
);
CREATE INDEX alerts_open ON alerts(acknowledged_at, id);
CREATE INDEX alerts_kind_phone ON alerts(kind, phone, created_at);

-- Tariffs by period: a change applies from the next billing period (YYYY-MM).
CREATE TABLE tariffs (
  service_code  TEXT    NOT NULL REFERENCES services(code),
  from_period   TEXT    NOT NULL CHECK (from_period GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'),
  monthly_fee   INTEGER NOT NULL CHECK (monthly_fee >= 0),
  sms_fee       INTEGER NOT NULL CHECK (sms_fee >= 0),
  PRIMARY KEY (service_code, from_period)
) WITHOUT ROWID;
INSERT INTO tariffs (service_code, from_period, monthly_fee, sms_fee)
  SELECT code, '2000-01', monthly_fee, sms_fee FROM services;

-- One notice per kind and period (suspension, reminder), so reruns never send it twice.
CREATE TABLE billing_notices (
  client_id  INTEGER NOT NULL REFERENCES clients(id),
  kind       TEXT    NOT NULL,
  period     TEXT    NOT NULL,
  at         TEXT    NOT NULL,
  PRIMARY KEY (client_id, kind, period)
) WITHOUT ROWID;

-- Call-outs for an alarm, one row per attempt.
CREATE TABLE callouts (
  id          INTEGER PRIMARY KEY,
  event_id    INTEGER NOT NULL REFERENCES monitoring_events(id),
  object_code TEXT    NOT NULL,
  phone       TEXT    NOT NULL,
  round       INTEGER NOT NULL,
  result      TEXT,
  started_at  TEXT    NOT NULL,
  ended_at    TEXT
);
CREATE INDEX callouts_event ON callouts(event_id);
