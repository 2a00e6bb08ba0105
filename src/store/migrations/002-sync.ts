/**
 * Two-way sync with the upstream FHIR server (src/sync). The outbox holds one row per resource
 * that has a local change not yet upstream; it is written by a hook inside the transaction of the
 * write itself, so a committed write can never miss its row. The other tables keep what we know of
 * the upstream side: the last upstream version per resource, the upstream versions already seen
 * (de-duplication of history entries), the pull cursors, conflicts and refused pulls.
 */
export default `
CREATE SEQUENCE sync_outbox_seq;

-- state: pending (to send), parked (refused upstream with a 4xx, kept with its OperationOutcome
-- until the resource changes again) or conflict (changed on both sides, see sync_conflict).
-- seq orders rows by their first unsent write and is kept while later writes move local_version
-- on, so a resource created before another one that refers to it is sent first.
-- lease_owner/lease_until: the worker sending the row. A lease that expires (the worker died) makes
-- the row claimable again. in_doubt: a request for this row may have reached upstream without
-- its answer being recorded, so the next attempt checks upstream first.
CREATE TABLE sync_outbox (
  res_type        text        NOT NULL,
  id              text        NOT NULL,
  seq             bigint      NOT NULL,
  local_version   integer     NOT NULL,
  state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'parked', 'conflict')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_owner     text,
  lease_until     timestamptz,
  in_doubt        boolean     NOT NULL DEFAULT false,
  last_error      text,
  outcome         text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  changed_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (res_type, id)
);
CREATE INDEX sync_outbox_ready ON sync_outbox (seq) WHERE state = 'pending';
CREATE INDEX sync_outbox_state ON sync_outbox (state, created_at);

-- The last upstream version known per resource (pushed by us or pulled), and the local version
-- whose content it holds: the If-Match of the next push.
CREATE TABLE sync_state (
  res_type         text        NOT NULL,
  id               text        NOT NULL,
  upstream_version text,
  upstream_updated timestamptz,
  upstream_deleted boolean     NOT NULL DEFAULT false,
  local_version    integer     NOT NULL,
  synced_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (res_type, id)
);

-- Upstream versions already handled, so that history entries read again (the overlap window,
-- several entries with one timestamp) are never applied twice.
CREATE TABLE sync_seen (
  res_type         text        NOT NULL,
  id               text        NOT NULL,
  version          text        NOT NULL,
  upstream_updated timestamptz,
  seen_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (res_type, id, version)
);
CREATE INDEX sync_seen_updated ON sync_seen (upstream_updated);

-- A resource changed locally (not yet pushed) and upstream: the upstream side is kept here, the
-- local side is the local resource itself. Neither is overwritten until $sync-resolve.
CREATE TABLE sync_conflict (
  res_type         text        NOT NULL,
  id               text        NOT NULL,
  upstream_version text,
  upstream_updated timestamptz,
  upstream_deleted boolean     NOT NULL DEFAULT false,
  upstream_content text,
  local_version    integer     NOT NULL,
  detected_by      text        NOT NULL,
  detected_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (res_type, id)
);

-- Upstream versions that failed our validation: not applied, kept with the OperationOutcome.
CREATE TABLE sync_rejected (
  res_type         text        NOT NULL,
  id               text        NOT NULL,
  version          text        NOT NULL,
  upstream_updated timestamptz,
  content          text,
  outcome          text        NOT NULL,
  superseded       boolean     NOT NULL DEFAULT false,
  received_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (res_type, id, version)
);

-- Pull position per type, in upstream time (the newest lastUpdated handled).
CREATE TABLE sync_cursor (
  res_type   text        PRIMARY KEY,
  since      timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Leases between replicas (the puller: one at a time).
CREATE TABLE sync_lease (
  name  text        PRIMARY KEY,
  owner text        NOT NULL,
  until timestamptz NOT NULL
);

-- What the workers last saw of the upstream, for $sync-status and /metrics on any replica.
CREATE TABLE sync_status (
  id              integer     PRIMARY KEY CHECK (id = 1),
  last_push_at    timestamptz,
  last_pull_at    timestamptz,
  last_contact_at timestamptz,
  reachable       boolean,
  last_error      text,
  last_error_at   timestamptz
);
INSERT INTO sync_status (id) VALUES (1);
`;
