/**
 * What the access policy reads on every request, kept up to date in the transaction of each
 * CareTeam, Consent and PractitionerRole write: who is a member of which patient's care team (and
 * when), which actors a patient's consent denies, and who stands for a user. `maintenance_task` asks the next start to fill them from
 * resources written before these tables existed.
 */
export default `
CREATE TABLE care_team_member (
  team_id      text        NOT NULL,
  patient_id   text        NOT NULL,
  member_type  text        NOT NULL,
  member_id    text        NOT NULL,
  team_active  boolean     NOT NULL,
  period_start timestamptz,
  period_end   timestamptz
);
CREATE INDEX care_team_member_member ON care_team_member (member_type, member_id);
CREATE INDEX care_team_member_team ON care_team_member (team_id);

CREATE TABLE consent_denial (
  consent_id     text        NOT NULL,
  patient_id     text        NOT NULL,
  actor_type     text        NOT NULL,
  actor_id       text        NOT NULL,
  resource_types text[],
  period_start   timestamptz,
  period_end     timestamptz
);
CREATE INDEX consent_denial_actor ON consent_denial (actor_type, actor_id);
CREATE INDEX consent_denial_consent ON consent_denial (consent_id);

-- Who stands for a user in care teams: a practitioner through each active role and its
-- organisation, a role through its practitioner and organisation (besides the user itself).
CREATE TABLE user_member (
  role_id     text NOT NULL,
  user_ref    text NOT NULL,
  member_type text NOT NULL,
  member_id   text NOT NULL
);
CREATE INDEX user_member_user ON user_member (user_ref);
CREATE INDEX user_member_role ON user_member (role_id);

CREATE TABLE maintenance_task (
  name       text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO maintenance_task (name) VALUES ('rebuild-access-index');
`;
