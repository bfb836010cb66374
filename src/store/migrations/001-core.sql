-- Core schema: clients, guarded objects, trusted numbers, catalogue, challenges,
-- the journal of electronic documents, the SMS outbox and the money ledger.
-- Times are ISO-8601 UTC text ('2026-11-24T21:30:00.000Z'); money is integer tiyn.

CREATE TABLE clients (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  lang          TEXT    NOT NULL DEFAULT 'ru' CHECK (lang IN ('ru', 'kk')),
  lang_chosen   INTEGER NOT NULL DEFAULT 0 CHECK (lang_chosen IN (0, 1)),
  balance       INTEGER NOT NULL DEFAULT 0,
  suspended_at  TEXT,
  created_at    TEXT    NOT NULL
);

CREATE TABLE objects (
  id              INTEGER PRIMARY KEY,
  client_id       INTEGER NOT NULL REFERENCES clients(id),
  code            TEXT    NOT NULL UNIQUE CHECK (code GLOB '[0-9]*' AND length(code) BETWEEN 3 AND 8),
  address         TEXT    NOT NULL CHECK (length(address) BETWEEN 1 AND 300),
  status          TEXT    NOT NULL DEFAULT 'disarmed'
                    CHECK (status IN ('armed', 'disarmed', 'alarm', 'no-link')),
  status_since    TEXT    NOT NULL,
  callout_enabled INTEGER NOT NULL DEFAULT 0 CHECK (callout_enabled IN (0, 1)),
  created_at      TEXT    NOT NULL
);
CREATE INDEX objects_client ON objects(client_id);

CREATE TABLE numbers (
  id            INTEGER PRIMARY KEY,
  client_id     INTEGER NOT NULL REFERENCES clients(id),
  phone         TEXT    NOT NULL CHECK (phone GLOB '+7[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
  state         TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'blocked', 'removed')),
  all_objects   INTEGER NOT NULL DEFAULT 1 CHECK (all_objects IN (0, 1)),
  position      INTEGER NOT NULL DEFAULT 0,
  block_reason  TEXT,
  created_at    TEXT    NOT NULL,
  updated_at    TEXT    NOT NULL
);
-- A number is trusted by at most one client at a time; a removed number may be registered again.
CREATE UNIQUE INDEX numbers_phone_live ON numbers(phone) WHERE state <> 'removed';
CREATE INDEX numbers_client ON numbers(client_id);

CREATE TABLE number_objects (
  number_id  INTEGER NOT NULL REFERENCES numbers(id),
  object_id  INTEGER NOT NULL REFERENCES objects(id),
  PRIMARY KEY (number_id, object_id)
) WITHOUT ROWID;

CREATE TABLE services (
  code          TEXT    PRIMARY KEY CHECK (code GLOB '[a-z]*'),
  name_ru       TEXT    NOT NULL,
  name_kk       TEXT    NOT NULL,
  monthly_fee   INTEGER NOT NULL DEFAULT 0 CHECK (monthly_fee >= 0),
  sms_fee       INTEGER NOT NULL DEFAULT 0 CHECK (sms_fee >= 0),
  active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

INSERT INTO services (code, name_ru, name_kk, monthly_fee, sms_fee) VALUES
  ('robot',  'Телефонный робот',   'Телефон роботы',       50000, 0),
  ('sms',    'SMS-информирование', 'SMS-хабарландыру',     30000, 1500),
  ('app',    'Мобильное приложение Kuzet Mobile', 'Kuzet Mobile мобильді қосымшасы', 40000, 0),
  ('chat',   'Онлайн-чат',         'Онлайн-чат',           20000, 0);

CREATE TABLE subscriptions (
  client_id     INTEGER NOT NULL REFERENCES clients(id),
  service_code  TEXT    NOT NULL REFERENCES services(code),
  state         TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended', 'ended')),
  started_at    TEXT    NOT NULL,
  PRIMARY KEY (client_id, service_code)
) WITHOUT ROWID;

-- A pending request that waits for dynamic authentication. Its id is the document id that
-- channels show; the code itself is only stored as an HMAC bound to this id.
CREATE TABLE challenges (
  id            TEXT    PRIMARY KEY,
  purpose       TEXT    NOT NULL,
  number_id     INTEGER NOT NULL REFERENCES numbers(id),
  object_id     INTEGER REFERENCES objects(id),
  channel       TEXT    NOT NULL,
  code_hash     BLOB    NOT NULL,
  created_at    TEXT    NOT NULL,
  expires_at    TEXT    NOT NULL,
  attempts      INTEGER NOT NULL DEFAULT 0,
  state         TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'used', 'failed', 'expired', 'revoked')),
  operator      TEXT
);
CREATE INDEX challenges_number ON challenges(number_id, state);

CREATE TABLE otp_sends (
  phone    TEXT NOT NULL,
  sent_at  TEXT NOT NULL
);
CREATE INDEX otp_sends_phone ON otp_sends(phone, sent_at);

-- Electronic documents: append-only, each row carries the SHA-256 of the previous one.
CREATE TABLE journal (
  seq           INTEGER PRIMARY KEY,
  at            TEXT    NOT NULL,
  channel       TEXT    NOT NULL,
  phone         TEXT,
  client_id     INTEGER,
  object_code   TEXT,
  action        TEXT    NOT NULL,
  auth          TEXT    NOT NULL,
  challenge_id  TEXT,
  operator      TEXT,
  outcome       TEXT    NOT NULL,
  reason        TEXT,
  detail        TEXT,
  prev_hash     TEXT    NOT NULL,
  hash          TEXT    NOT NULL
);
CREATE INDEX journal_client ON journal(client_id, seq);
CREATE INDEX journal_challenge ON journal(challenge_id);
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
  BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
  BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;

-- SMS to send. A text that carries a code is kept only encrypted (body_enc) and erased
-- once the SMSC accepted it or it expired.
CREATE TABLE outbox (
  id            INTEGER PRIMARY KEY,
  priority      INTEGER NOT NULL CHECK (priority IN (0, 1, 2)),
  kind          TEXT    NOT NULL,
  phone         TEXT    NOT NULL,
  client_id     INTEGER,
  body          TEXT,
  body_enc      BLOB,
  secret        INTEGER NOT NULL DEFAULT 0 CHECK (secret IN (0, 1)),
  state         TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'sending', 'submitted', 'delivered', 'undeliverable',
                                   'expired', 'failed')),
  created_at    TEXT    NOT NULL,
  not_before    TEXT    NOT NULL,
  expires_at    TEXT,
  attempts      INTEGER NOT NULL DEFAULT 0,
  error         TEXT,
  updated_at    TEXT    NOT NULL,
  CHECK (body IS NOT NULL OR body_enc IS NOT NULL OR state NOT IN ('queued', 'sending'))
);
CREATE INDEX outbox_queue ON outbox(state, priority, id);

CREATE TABLE ledger (
  id          INTEGER PRIMARY KEY,
  client_id   INTEGER NOT NULL REFERENCES clients(id),
  amount      INTEGER NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('payment', 'charge', 'refund')),
  ref         TEXT    NOT NULL UNIQUE,
  note        TEXT,
  at          TEXT    NOT NULL
);
CREATE INDEX ledger_client ON ledger(client_id, id);
