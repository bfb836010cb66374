-- Several instances of the service on one database: what one instance is doing (an SMS in
-- flight, alarm call-outs under way, a scheduled job) is held by that instance under a lease
-- it renews; what a dead instance held is taken over once its lease ran out. Rate limits are
-- counted here, so that they hold across instances.

-- The instance that is sending a message ('sending') and until when its claim holds.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
CREATE INDEX outbox_sending_lease ON outbox(lease_until) WHERE state = 'sending';

-- The instance placing an alarm's call-outs ('running') and until when.
ALTER TABLE monitoring_events ADD COLUMN callout_holder TEXT;
ALTER TABLE monitoring_events ADD COLUMN callout_lease_until TEXT;

-- One row per scheduled run of a job (its slot: the scheduled minute); a run is done once,
-- by the instance that acquired it, or taken over when its holder died before finishing.
CREATE TABLE job_runs (
  job          TEXT    NOT NULL,
  slot         TEXT    NOT NULL,
  holder       TEXT    NOT NULL,
  started_at   TEXT    NOT NULL,
  lease_until  TEXT    NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 1,
  finished_at  TEXT,
  outcome      TEXT    CHECK (outcome IN ('done', 'failed')),
  detail       TEXT,
  PRIMARY KEY (job, slot)
) WITHOUT ROWID;
CREATE INDEX job_runs_open ON job_runs(lease_until) WHERE finished_at IS NULL;

-- Hits of sliding-window rate limits (sign-in attempts per address, SMS commands per number,
-- messages from unknown senders); `until` is when a hit leaves every window it counts in.
CREATE TABLE rate_hits (
  key    TEXT NOT NULL,
  at     TEXT NOT NULL,
  until  TEXT NOT NULL
);
CREATE INDEX rate_hits_key ON rate_hits(key, at);
CREATE INDEX rate_hits_until ON rate_hits(until);
