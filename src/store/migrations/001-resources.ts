/**
 * Resources, every version of them, and the search index. The current version is kept in
 * `resource` (served by read and search without a join) and again, with all earlier ones, in
 * `resource_version` (vread, history). The index tables are written in the same statement as the
 * resource; deleted resources have no index rows.
 */
export default `
CREATE SEQUENCE resource_seq;

CREATE TABLE resource (
  res_type     text        NOT NULL,
  id           text        NOT NULL,
  version      integer     NOT NULL,
  seq          bigint      NOT NULL,
  last_updated timestamptz NOT NULL,
  deleted      boolean     NOT NULL DEFAULT false,
  content      text,
  PRIMARY KEY (res_type, id)
);
CREATE INDEX resource_type_seq ON resource (res_type, seq);
CREATE INDEX resource_type_updated ON resource (res_type, last_updated);

CREATE TABLE resource_version (
  seq          bigserial   PRIMARY KEY,
  res_type     text        NOT NULL,
  id           text        NOT NULL,
  version      integer     NOT NULL,
  last_updated timestamptz NOT NULL,
  method       text        NOT NULL,
  content      text,
  UNIQUE (res_type, id, version)
);
CREATE INDEX resource_version_type_seq ON resource_version (res_type, seq);
CREATE INDEX resource_version_updated ON resource_version (last_updated);

CREATE TABLE idx_string (
  res_type text NOT NULL, res_id text NOT NULL, param text NOT NULL,
  value text NOT NULL, exact text NOT NULL
);
CREATE INDEX idx_string_search ON idx_string (res_type, param, value text_pattern_ops);
CREATE INDEX idx_string_res ON idx_string (res_type, res_id);

CREATE TABLE idx_token (
  res_type text NOT NULL, res_id text NOT NULL, param text NOT NULL,
  system text, code text, text text
);
CREATE INDEX idx_token_search ON idx_token (res_type, param, code);
CREATE INDEX idx_token_res ON idx_token (res_type, res_id);

CREATE TABLE idx_reference (
  res_type text NOT NULL, res_id text NOT NULL, param text NOT NULL,
  target_type text, target_id text, url text, id_system text, id_value text
);
CREATE INDEX idx_reference_search ON idx_reference (res_type, param, target_id);
CREATE INDEX idx_reference_target ON idx_reference (target_type, target_id);
CREATE INDEX idx_reference_res ON idx_reference (res_type, res_id);

CREATE TABLE idx_date (
  res_type text NOT NULL, res_id text NOT NULL, param text NOT NULL,
  lo timestamptz NOT NULL, hi timestamptz NOT NULL
);
CREATE INDEX idx_date_search ON idx_date (res_type, param, lo, hi);
CREATE INDEX idx_date_res ON idx_date (res_type, res_id);

CREATE TABLE idx_number (
  res_type text NOT NULL, res_id text NOT NULL, param text NOT NULL,
  value numeric NOT NULL, lo numeric NOT NULL, hi numeric NOT NULL
);
CREATE INDEX idx_number_search ON idx_number (res_type, param, value);
CREATE INDEX idx_number_res ON idx_number (res_type, res_id);

CREATE TABLE idx_quantity (
  res_type text NOT NULL, res_id text NOT NULL, param text NOT NULL,
  value numeric NOT NULL, lo numeric NOT NULL, hi numeric NOT NULL,
  system text, code text, unit text
);
CREATE INDEX idx_quantity_search ON idx_quantity (res_type, param, value);
CREATE INDEX idx_quantity_res ON idx_quantity (res_type, res_id);

CREATE TABLE idx_uri (
  res_type text NOT NULL, res_id text NOT NULL, param text NOT NULL,
  value text NOT NULL
);
CREATE INDEX idx_uri_search ON idx_uri (res_type, param, value);
CREATE INDEX idx_uri_res ON idx_uri (res_type, res_id);

-- Every local reference of a current resource, found anywhere in it (not only where a search
-- parameter looks): referential integrity reads this table.
CREATE TABLE ref_link (
  src_type text NOT NULL, src_id text NOT NULL,
  target_type text NOT NULL, target_id text NOT NULL
);
CREATE INDEX ref_link_target ON ref_link (target_type, target_id);
CREATE INDEX ref_link_src ON ref_link (src_type, src_id);
`;
