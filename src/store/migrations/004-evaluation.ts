/**
 * Pilot evaluation (docs/evaluation.md): a projection of what the indicators count, kept up to
 * date by a store write hook in the transaction of each Patient, CareTeam, CarePlan, Condition,
 * Goal and Consent write (src/indicators/projection.ts), so that every indicator is one SQL pass
 * over narrow tables instead of parsing resource JSON; and the bulk export jobs ($export), kept in
 * the database so that any replica can answer the polling of a job another one runs.
 * `maintenance_task` asks the next start to fill the projection from resources written before.
 */
export default `
CREATE TABLE ind_patient (
  patient_id  text PRIMARY KEY,
  birth_date  date,
  gender      text
);

-- The addresses that place a patient in a municipality (Statbel NIS code), with their period.
-- rank: 0 home, 1 another use, 2 old (only with a period end).
CREATE TABLE ind_residence (
  patient_id   text        NOT NULL,
  nis          text        NOT NULL,
  rank         integer     NOT NULL,
  period_start timestamptz,
  period_end   timestamptz
);
CREATE INDEX ind_residence_patient ON ind_residence (patient_id);

-- status_since: when the current status was first stored (the end of a team that became
-- inactive without a period end). ind_plan.updates: when each version of the plan was stored.
CREATE TABLE ind_team (
  team_id      text        PRIMARY KEY,
  patient_id   text        NOT NULL,
  status       text        NOT NULL,
  status_since timestamptz NOT NULL,
  period_start timestamptz,
  period_end   timestamptz,
  managing     text[]      NOT NULL
);
CREATE INDEX ind_team_patient ON ind_team (patient_id);

-- One row per participant with a member and per role coding (role_key NULL: no role given).
CREATE TABLE ind_team_member (
  team_id      text        NOT NULL,
  member_type  text        NOT NULL,
  member_id    text        NOT NULL,
  role_key     text,
  period_start timestamptz,
  period_end   timestamptz
);
CREATE INDEX ind_team_member_team ON ind_team_member (team_id);

CREATE TABLE ind_plan (
  plan_id      text        PRIMARY KEY,
  patient_id   text        NOT NULL,
  status       text        NOT NULL,
  status_since timestamptz NOT NULL,
  plan_start   timestamptz,
  period_end   timestamptz,
  instantiates text[]      NOT NULL,
  team_ids     text[]      NOT NULL,
  goal_count   integer     NOT NULL,
  first_seen   timestamptz NOT NULL,
  updates      timestamptz[] NOT NULL
);
CREATE INDEX ind_plan_patient ON ind_plan (patient_id);

CREATE TABLE ind_plan_address (
  plan_id      text NOT NULL,
  condition_id text NOT NULL
);
CREATE INDEX ind_plan_address_plan ON ind_plan_address (plan_id);
CREATE INDEX ind_plan_address_condition ON ind_plan_address (condition_id);

-- Dates that a resource may lack (plan_start, recorded, goal_start) are NULL then: the queries fall
-- back on first_seen, when the server first stored the resource.
CREATE TABLE ind_condition (
  condition_id text        PRIMARY KEY,
  patient_id   text        NOT NULL,
  clinical     text,
  verification text,
  code_keys    text[]      NOT NULL,
  recorded     timestamptz,
  onset        timestamptz,
  abatement    timestamptz,
  first_seen   timestamptz NOT NULL
);
CREATE INDEX ind_condition_patient ON ind_condition (patient_id);

CREATE TABLE ind_goal (
  goal_id        text        PRIMARY KEY,
  patient_id     text        NOT NULL,
  lifecycle      text        NOT NULL,
  goal_start     timestamptz,
  expressed_type text,
  expressed_id   text,
  first_seen     timestamptz NOT NULL
);
CREATE INDEX ind_goal_patient ON ind_goal (patient_id);

CREATE TABLE ind_consent (
  consent_id     text        PRIMARY KEY,
  patient_id     text        NOT NULL,
  status         text        NOT NULL,
  date_time      timestamptz,
  provision_type text,
  period_start   timestamptz,
  period_end     timestamptz
);
CREATE INDEX ind_consent_patient ON ind_consent (patient_id);

INSERT INTO maintenance_task (name) VALUES ('rebuild-indicator-index');

-- Bulk export jobs. status: queued, running, completed, failed. A running job whose lease has
-- expired (its worker died) is claimed again by any worker and restarted from the beginning.
CREATE TABLE export_job (
  id               text        PRIMARY KEY,
  client           text        NOT NULL,
  pseudonymised    boolean     NOT NULL,
  level            text        NOT NULL CHECK (level IN ('system', 'patient', 'group')),
  group_id         text,
  types            text[]      NOT NULL,
  since            timestamptz,
  request          text        NOT NULL,
  base_url         text        NOT NULL,
  status           text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  transaction_time timestamptz NOT NULL,
  total            integer,
  done             integer     NOT NULL DEFAULT 0,
  attempts         integer     NOT NULL DEFAULT 0,
  lease_owner      text,
  lease_until      timestamptz,
  error            text,
  manifest         text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz
);
CREATE INDEX export_job_ready ON export_job (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE export_file (
  job_id   text    NOT NULL REFERENCES export_job (id) ON DELETE CASCADE,
  name     text    NOT NULL,
  res_type text    NOT NULL,
  kind     text    NOT NULL CHECK (kind IN ('output', 'error')),
  count    integer NOT NULL,
  content  text    NOT NULL,
  PRIMARY KEY (job_id, name)
);
`;
