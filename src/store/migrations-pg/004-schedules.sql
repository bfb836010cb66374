-- Opening and closing schedules of guarded objects. Times are local times of the company's
-- time zone ('HH:MM'), dates local dates ('YYYY-MM-DD'), weekdays ISO (1 Monday … 7 Sunday).
CREATE TABLE object_schedules (
  object_id           bigint  PRIMARY KEY REFERENCES objects(id),
  -- whether a disarm outside the schedule is also told to the object's trusted numbers
  notify_off_schedule integer NOT NULL DEFAULT 1 CHECK (notify_off_schedule IN (0, 1)),
  updated_at          text    COLLATE "C" NOT NULL,
  updated_by          text    COLLATE "C"
);

-- One weekday's rule: armed by arm_by, not disarmed before open_from (each optional).
CREATE TABLE schedule_days (
  object_id  bigint  NOT NULL REFERENCES object_schedules(object_id),
  weekday    integer NOT NULL CHECK (weekday BETWEEN 1 AND 7),
  arm_by     text    COLLATE "C" CHECK (arm_by ~ '^[0-2][0-9]:[0-5][0-9]$'),
  open_from  text    COLLATE "C" CHECK (open_from ~ '^[0-2][0-9]:[0-5][0-9]$'),
  PRIMARY KEY (object_id, weekday)
);

-- A date that differs from the week: closed all day, or other times.
CREATE TABLE schedule_exceptions (
  object_id  bigint  NOT NULL REFERENCES object_schedules(object_id),
  date       text    COLLATE "C" NOT NULL CHECK (date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
  closed     integer NOT NULL CHECK (closed IN (0, 1)),
  arm_by     text    COLLATE "C" CHECK (arm_by ~ '^[0-2][0-9]:[0-5][0-9]$'),
  open_from  text    COLLATE "C" CHECK (open_from ~ '^[0-2][0-9]:[0-5][0-9]$'),
  note       text    COLLATE "C",
  PRIMARY KEY (object_id, date)
);

-- Notices already given (not armed in time: the clients' SMS, the operators' alert), once per
-- object, local date and kind, whichever instance gives them.
CREATE TABLE schedule_notices (
  object_id  bigint  NOT NULL REFERENCES objects(id),
  date       text    COLLATE "C" NOT NULL,
  kind       text    COLLATE "C" NOT NULL,
  at         text    COLLATE "C" NOT NULL,
  PRIMARY KEY (object_id, date, kind)
);
