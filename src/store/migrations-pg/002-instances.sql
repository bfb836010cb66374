-- Several instances of the service on one database (as SQLite's migration 007): what one
-- instance is doing (an SMS in flight, alarm call-outs under way, a scheduled job) is held by
-- that instance under a lease it renews; what a dead instance held is taken over once its
-- lease ran out. Rate limits are counted here, so that they hold across instances.

ALTER TABLE outbox ADD COLUMN claimed_by text COLLATE "C";
ALTER TABLE outbox ADD COLUMN lease_until text COLLATE "C";
CREATE INDEX outbox_sending_lease ON outbox(lease_until) WHERE state = 'sending';

ALTER TABLE monitoring_events ADD COLUMN callout_holder text COLLATE "C";
ALTER TABLE monitoring_events ADD COLUMN callout_lease_until text COLLATE "C";

CREATE TABLE job_runs (
  job          text    COLLATE "C" NOT NULL,
  slot         text    COLLATE "C" NOT NULL,
  holder       text    COLLATE "C" NOT NULL,
  started_at   text    COLLATE "C" NOT NULL,
  lease_until  text    COLLATE "C" NOT NULL,
  attempts     integer NOT NULL DEFAULT 1,
  finished_at  text    COLLATE "C",
  outcome      text    COLLATE "C" CHECK (outcome IN ('done', 'failed')),
  detail       text    COLLATE "C",
  PRIMARY KEY (job, slot)
);
CREATE INDEX job_runs_open ON job_runs(lease_until) WHERE finished_at IS NULL;

CREATE TABLE rate_hits (
  key    text COLLATE "C" NOT NULL,
  at     text COLLATE "C" NOT NULL,
  until  text COLLATE "C" NOT NULL
);
CREATE INDEX rate_hits_key ON rate_hits(key, at);
CREATE INDEX rate_hits_until ON rate_hits(until);
