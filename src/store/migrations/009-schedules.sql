-- Opening and closing schedules of guarded objects. Times are local times of the company's
-- time zone ('HH:MM'), dates local dates ('YYYY-MM-DD'), weekdays ISO (1 Monday … 7 Sunday).
CREATE TABLE object_schedules (
  object_id           INTEGER PRIMARY KEY REFERENCES objects(id),
  -- whether a disarm outside the schedule is also told to the object's trusted numbers
  notify_off_schedule INTEGER NOT NULL DEFAULT 1 CHECK (notify_off_schedule IN (0, 1)),
  updated_at          TEXT    NOT NULL,
  updated_by          TEXT
);

-- One weekday's rule: armed by arm_by, not disarmed before open_from (each optional).
CREATE TABLE schedule_days (
  object_id  INTEGER NOT NULL REFERENCES object_schedules(object_id),
  weekday    INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
  arm_by     TEXT,
  open_from  TEXT,
  PRIMARY KEY (object_id, weekday)
) WITHOUT ROWID;

-- A date that differs from the week: closed all day, or other times.
CREATE TABLE schedule_exceptions (
  object_id  INTEGER NOT NULL REFERENCES object_schedules(object_id),
  date       TEXT    NOT NULL,
  closed     INTEGER NOT NULL CHECK (closed IN (0, 1)),
  arm_by     TEXT,
  open_from  TEXT,
  note       TEXT,
  PRIMARY KEY (object_id, date)
) WITHOUT ROWID;

-- Notices already given (not armed in time: the clients' SMS, the operators' alert), once per
-- object, local date and kind, whichever instance gives them.
CREATE TABLE schedule_notices (
  object_id  INTEGER NOT NULL REFERENCES objects(id),
  date       TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  at         TEXT    NOT NULL,
  PRIMARY KEY (object_id, date, kind)
) WITHOUT ROWID;
