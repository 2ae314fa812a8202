-- The hold on one grant rides on the request row, as on SQLite (src/ledger/sqlite/ledger.ts): the common admission
-- writes no `holds` row and its settlement deletes none (`hold_grant_id`, `hold_amount`, kept on the row once it is
-- finished; open while the row is `held`). A hold spread over several grants stays in `holds`. `ledger verify`
-- (src/ledger/postgres/verify.ts) sums both.
ALTER TABLE "requests" ADD COLUMN "hold_grant_id" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "hold_amount" bigint;--> statement-breakpoint
-- Admits a request in one call (src/ledger/postgres/book.ts, admitRow), with the arithmetic of src/ledger/allocate.ts
-- and capacity.ts: locks the company's grants (id order), then the quota counters it is given (id order, created when
-- missing); takes the active grants covering the model (`p_model`, or its family `p_family`) in burn order
-- (tollgate_burn_key: unlimited first, then priority, earliest expiry, oldest start, id); decides the hold from what
-- the grants and every quota window can still cover; writes the row (with its end user and tags), its holds and the
-- running totals. A hold on one grant rides on the row (`hold_grant_id`, `hold_amount`, as on SQLite): no `holds` row to
-- write now nor to delete at the settlement; a hold spread over several grants is written to `holds`. Grant capacity is in tokens, a micro-USD grant's priced at `p_pico` (pico-USD per token;
-- float8 like the JavaScript it mirrors). The quota counters are data: one entry per window (`p_counters` …
-- `p_limit_micro`, NULL limits none), whatever their scope. Returns
--   {"ok":true,"hold":…,"tokens":…,"microUsd":…,"unlimited":…,"quotas":[{"t":…,"c":…}]}  (standing after the hold),
--   {"ok":false,"quota":i|null,"available":…}  (refused by quota window i, 0-based, or by the grants), or
--   {"fenced":true} when `p_instance` was declared gone (nothing written), or
--   {"count":true} when `p_ample` > 0 (the request rests on a bound of its prompt, see HoldRequest.exact) and what is
--   left is under `p_ample` times the most it would hold (nothing written: ask again on the counted prompt, `p_ample` 0).
-- The row's id conflicting (its admission withdrawn first, see LedgerWriter.cancel) raises unique_violation.
CREATE OR REPLACE FUNCTION tollgate_admit(
  p_id text, p_at timestamptz, p_company text, p_key text, p_user text, p_session text, p_feature text,
  p_endpoint text, p_model text, p_stream boolean, p_prompt bigint, p_instance text, p_conversation text,
  p_client_request_id text, p_forwarded boolean, p_end_user text, p_tags text,
  p_min bigint, p_max bigint, p_clamp boolean, p_pico bigint, p_cost_only boolean, p_family text,
  p_counters text[], p_scopes text[], p_scope_ids text[], p_windows text[], p_window_keys text[],
  p_limit_tokens bigint[], p_limit_micro bigint[], p_ample integer
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  pico float8 := CASE WHEN p_cost_only THEN 1000000 ELSE p_pico END;
  inf float8 := 'Infinity';
  -- eligible grants, in burn order: id, unit, unlimited, what is left, capacity in tokens
  e_ids text[] := '{}';
  e_units text[] := '{}';
  e_unl boolean[] := '{}';
  e_left float8[] := '{}';
  e_cap float8[] := '{}';
  grant_cap float8 := 0;
  nq int := coalesce(array_length(p_counters, 1), 0);
  q_spent_t bigint[];
  q_held_t bigint[];
  q_spent_c bigint[];
  q_held_c bigint[];
  q_cap float8[];
  available float8;
  lo bigint := greatest(1, p_min);
  hi bigint;
  hold bigint;
  hold_tokens bigint;
  hold_micro bigint;
  need float8;
  take float8;
  p_ids text[] := '{}';
  p_amts bigint[] := '{}';
  found_n int;
  std_tokens float8 := 0;
  std_micro float8 := 0;
  std_unl boolean := false;
  quotas json[] := '{}';
  k int;
  live boolean;
BEGIN
  hi := greatest(lo, p_max);
  -- The eligible grants in burn order, with what each has left and can cover (in tokens), and this
  -- instance's liveness, in one statement.
  -- (The aggregates read the eligible grants in the subquery's burn order: one sort, not one per array.)
  SELECT coalesce(array_agg(e.id), '{}'), coalesce(array_agg(e.unit), '{}'),
         coalesce(array_agg(e.unlimited), '{}'), coalesce(array_agg(e.lft), '{}'),
         coalesce(array_agg(e.cap), '{}'), coalesce(sum(e.cap), 0),
         EXISTS (SELECT 1 FROM instances WHERE id = p_instance AND stopped_at IS NULL)
    INTO e_ids, e_units, e_unl, e_left, e_cap, grant_cap, live
    FROM (
      SELECT l.id, l.unit, l.unlimited, l.lft,
        CASE WHEN l.unlimited OR l.unit = 'tokens' THEN l.lft WHEN pico = 0 THEN inf ELSE floor(l.lft * 1000000 / pico) END AS cap
      FROM (SELECT *, CASE WHEN unlimited THEN inf ELSE greatest(0, amount - spent - held)::float8 END AS lft
            FROM grants WHERE company_id = p_company ORDER BY id COLLATE "C" FOR UPDATE) l
      WHERE l.removed_at IS NULL AND (l.starts_at IS NULL OR l.starts_at <= p_at) AND (l.expires_at IS NULL OR l.expires_at > p_at)
        AND (l.models IS NULL OR (p_model IS NOT NULL AND (l.models::jsonb ? p_model OR l.models::jsonb ? p_family)))
        AND (NOT p_cost_only OR l.unlimited OR l.unit = 'micro_usd')
      ORDER BY tollgate_burn_key(l.unlimited, l.priority, l.expires_at, l.starts_at, l.created_at, l.id)) e;
  IF NOT live THEN
    RETURN json_build_object('fenced', true);
  END IF;
  available := grant_cap;
  IF nq > 0 THEN
    -- The counters, created when missing, then locked in id order.
    SELECT count(*) INTO found_n FROM (SELECT 1 FROM quota_counters WHERE id = ANY (p_counters) ORDER BY id COLLATE "C" FOR UPDATE) l;
    IF found_n < (SELECT count(DISTINCT x) FROM unnest(p_counters) x) THEN
      INSERT INTO quota_counters (id, company_id, scope, scope_id, "window", window_key, created_at)
        SELECT t.id, p_company, t.scope, t.scope_id, t.win, t.win_key, p_at
        FROM unnest(p_counters, p_scopes, p_scope_ids, p_windows, p_window_keys) AS t(id, scope, scope_id, win, win_key)
        ORDER BY t.id COLLATE "C"
        ON CONFLICT (id) DO NOTHING;
      PERFORM 1 FROM quota_counters WHERE id = ANY (p_counters) ORDER BY id COLLATE "C" FOR UPDATE;
    END IF;
    SELECT array_agg(x.spent_tokens), array_agg(x.held_tokens), array_agg(x.spent_micro_usd), array_agg(x.held_micro_usd)
      INTO q_spent_t, q_held_t, q_spent_c, q_held_c
      FROM (SELECT q.* FROM unnest(p_counters) WITH ORDINALITY AS t(id, n) JOIN quota_counters q ON q.id = t.id ORDER BY t.n) x;
    q_cap := array_fill(inf, ARRAY[nq]);
    FOR i IN 1..nq LOOP
      IF p_limit_tokens[i] IS NOT NULL AND NOT p_cost_only THEN
        q_cap[i] := greatest(0, p_limit_tokens[i] - q_spent_t[i] - q_held_t[i]);
      END IF;
      IF p_limit_micro[i] IS NOT NULL AND pico > 0 THEN
        q_cap[i] := least(q_cap[i], floor(greatest(0, p_limit_micro[i] - q_spent_c[i] - q_held_c[i])::float8 * 1000000 / pico));
      END IF;
      available := least(available, q_cap[i]);
    END LOOP;
  END IF;
  IF p_ample > 0 AND available < p_ample::float8 * hi THEN
    -- A hold on a bound of an uncounted prompt only where it leaves ample room (src/ledger/sqlite/ledger.ts, AMPLE):
    -- else the caller counts the prompt and asks again on the count. Nothing written.
    RETURN json_build_object('count', true);
  END IF;
  IF available >= hi THEN
    hold := hi;
  ELSIF p_clamp AND available > lo THEN
    hold := available;
  ELSE
    FOR i IN 1..nq LOOP
      IF q_cap[i] = available AND q_cap[i] < grant_cap THEN
        RETURN json_build_object('ok', false, 'quota', i - 1, 'available', available);
      END IF;
    END LOOP;
    RETURN json_build_object('ok', false, 'quota', NULL, 'available', available);
  END IF;
  hold_micro := CASE WHEN p_cost_only THEN hold ELSE ceil(hold * pico / 1000000) END;
  hold_tokens := CASE WHEN p_cost_only THEN 0 ELSE hold END;
  -- The hold, spread over the eligible grants in burn order (allocate.ts, planHold).
  need := hold;
  FOR i IN 1..coalesce(array_length(e_ids, 1), 0) LOOP
    EXIT WHEN need <= 0;
    take := least(e_cap[i], need);
    CONTINUE WHEN take <= 0;
    p_ids := p_ids || e_ids[i];
    p_amts := p_amts || CASE WHEN e_units[i] = 'tokens' THEN take ELSE least(e_left[i], ceil(take * pico / 1000000)) END::bigint;
    need := need - take;
  END LOOP;
  IF cardinality(p_ids) = 1 THEN
    -- One grant (the common case): the hold rides on the row (`hold_grant_id`, `hold_amount`), no `holds` row.
    WITH r AS (
      INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model,
          stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, instance_id, conversation_id,
          client_request_id, forwarded, end_user, tags, hold_grant_id, hold_amount)
        VALUES (p_id, p_at, p_company, p_key, p_user, p_session, p_feature, p_endpoint, p_model, p_stream, 'held',
          p_prompt, hold_tokens, hold_micro, p_instance, p_conversation, p_client_request_id, p_forwarded, p_end_user, p_tags,
          p_ids[1], p_amts[1]))
    UPDATE grants SET held = grants.held + p_amts[1] WHERE grants.id = p_ids[1];
  ELSE
    WITH r AS (
      INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model,
          stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, instance_id, conversation_id,
          client_request_id, forwarded, end_user, tags)
        VALUES (p_id, p_at, p_company, p_key, p_user, p_session, p_feature, p_endpoint, p_model, p_stream, 'held',
          p_prompt, hold_tokens, hold_micro, p_instance, p_conversation, p_client_request_id, p_forwarded, p_end_user, p_tags)),
    h AS (INSERT INTO holds (request_id, grant_id, amount) SELECT p_id, t.g, t.a FROM unnest(p_ids, p_amts) AS t(g, a))
    UPDATE grants SET held = grants.held + t.a FROM unnest(p_ids, p_amts) AS t(g, a) WHERE grants.id = t.g;
  END IF;
  IF nq > 0 THEN
    INSERT INTO quota_holds (request_id, counter_id, tokens, micro_usd)
      SELECT DISTINCT p_id, q, hold_tokens, hold_micro FROM unnest(p_counters) AS q;
    UPDATE quota_counters SET held_tokens = held_tokens + hold_tokens, held_micro_usd = held_micro_usd + hold_micro
      WHERE id = ANY (p_counters);
  END IF;
  -- The standing after the hold (capacity.ts, standingAfterHold), for the response headers.
  FOR i IN 1..coalesce(array_length(e_ids, 1), 0) LOOP
    IF e_unl[i] THEN
      std_unl := true;
    ELSE
      k := coalesce(array_position(p_ids, e_ids[i]), 0);
      IF e_units[i] = 'tokens' THEN
        std_tokens := std_tokens + greatest(0, e_left[i] - CASE WHEN k > 0 THEN p_amts[k] ELSE 0 END);
      ELSE
        std_micro := std_micro + greatest(0, e_left[i] - CASE WHEN k > 0 THEN p_amts[k] ELSE 0 END);
      END IF;
    END IF;
  END LOOP;
  FOR i IN 1..nq LOOP
    quotas := quotas || json_build_object(
      't', CASE WHEN p_limit_tokens[i] IS NULL THEN NULL ELSE greatest(0, p_limit_tokens[i] - q_spent_t[i] - q_held_t[i] - hold_tokens) END,
      'c', CASE WHEN p_limit_micro[i] IS NULL THEN NULL ELSE greatest(0, p_limit_micro[i] - q_spent_c[i] - q_held_c[i] - hold_micro) END);
  END LOOP;
  RETURN json_build_object('ok', true, 'hold', hold_tokens, 'tokens', std_tokens, 'microUsd', std_micro,
    'unlimited', std_unl, 'quotas', coalesce(array_to_json(quotas), '[]'::json));
END $$;
--> statement-breakpoint
-- Settles, voids or interrupts a request in one call (src/ledger/postgres/book.ts, finishRow): takes its row, then
-- the company's grants (id order), then its quota counters (id order); releases its holds; burns the charge first
-- from the grants it held, then the company's other active grants covering the model, in burn order (allocate.ts,
-- planBurn: a tokens grant takes tokens and the micro-USD in proportion, a micro-USD grant the reverse, an unlimited
-- one the rest; what none covers overdraws the first); writes the row, debits and running totals. NULL when the row
-- is not held (nothing changes), except a late settlement of a row a sweep resolved (`interrupted`: its replica was
-- declared gone while serving it), which replaces the interrupted charge by the real one, once. `p_sweeper` (a
-- sweep by that instance) leaves a row another live instance holds (one that registered again and took it over).
-- Settling a held row without a billed object writes it first thing (its only write, which also locks it).
-- Every write of the row sets `settle_xid` (this transaction), the order in which the rollups fold finished rows
-- (src/ledger/postgres/fold.ts); a late settlement first takes the row's earlier outcome out of the rollups when
-- it was folded (`tollgate_unfold`), holding the fold's lock shared so that no fold runs meanwhile.
CREATE OR REPLACE FUNCTION tollgate_finish(
  p_id text, p_status text, p_at timestamptz, p_sweeper text,
  p_http_status integer, p_returned_model text, p_model text, p_price_version text,
  p_input bigint, p_cached bigint, p_output bigint, p_reasoning bigint, p_total bigint,
  p_metered bigint, p_cost_micro bigint, p_cost_nano bigint, p_tool_calls text, p_usage_source text,
  p_latency double precision, p_ttfb double precision, p_upstream_request_id text, p_error_code text,
  p_billed_object text, p_billed_kind text, p_units text, p_price_source text
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  r record;
  r_company text;
  r_model text;
  written boolean := false;
  row_hold boolean := false;
  burned boolean := false;
  late boolean := false;
  metered bigint := p_metered;
  cost bigint := p_cost_micro;
  nano bigint := p_cost_nano;
  err text := p_error_code;
  charged boolean := p_status <> 'voided';
  hold_ids text[];
  hold_amts bigint[];
  q_ids text[];
  q_tokens bigint[];
  q_micro bigint[];
  -- the company's grants, in burn order: id, unit, this request's hold, what is left (NULL: unlimited)
  ids text[] := '{}';
  units text[] := '{}';
  own bigint[] := '{}';
  lefts float8[] := '{}';
  -- the burn: positions into the arrays above; their debits (NULL: none) and overdrafts
  ord int[] := '{}';
  amt bigint[];
  over bigint[];
  held_n int;
  need_t bigint;
  need_c bigint;
  take bigint;
  fam text;
  k int;
  g_ids text[] := '{}';
  g_held bigint[] := '{}';
  g_spent bigint[] := '{}';
  d_ids text[] := '{}';
  d_units text[] := '{}';
  d_amts bigint[] := '{}';
  d_over bigint[] := '{}';
  out_grants json;
  out_counters json;
  ct bigint;
  cc bigint;
BEGIN
  IF p_status <> 'interrupted' AND p_billed_object IS NULL THEN
    -- The row's one write (which also locks it), its holds taken off, the company's grants locked (id order)
    -- and, in the common case — one grant held, which covers the whole charge (allocate.ts, planBurn: a
    -- tokens grant takes the tokens and with them all the micro-USD, a micro-USD grant the reverse, an
    -- unlimited one whatever is asked) or nothing to burn — its debit and the running totals: one statement.
    WITH u AS (
      UPDATE requests SET status = p_status, http_status = p_http_status, returned_model = p_returned_model,
        requested_model = coalesce(requested_model, p_model), price_version = p_price_version,
        input_tokens = p_input, cached_input_tokens = p_cached, output_tokens = p_output, reasoning_tokens = p_reasoning,
        total_tokens = p_total, metered_tokens = metered, cost_micro_usd = cost, cost_nano_usd = nano, tool_calls = p_tool_calls,
        usage_source = p_usage_source, latency_ms = p_latency, ttfb_ms = p_ttfb, upstream_request_id = p_upstream_request_id,
        error_code = err, settled_at = p_at, units = p_units, price_source = p_price_source, charged_counters = NULL,
        settle_xid = pg_current_xact_id()
      WHERE id = p_id AND status = 'held'
      RETURNING company_id, requested_model, hold_grant_id, hold_amount),
    -- Its holds: the one on the row, else the `holds` rows (never both).
    hd AS (DELETE FROM holds WHERE request_id = p_id AND EXISTS (SELECT 1 FROM u WHERE u.hold_grant_id IS NULL)
      RETURNING grant_id, amount),
    h AS (SELECT u.hold_grant_id AS grant_id, u.hold_amount AS amount FROM u WHERE u.hold_grant_id IS NOT NULL
      UNION ALL SELECT grant_id, amount FROM hd),
    q AS (DELETE FROM quota_holds WHERE request_id = p_id AND EXISTS (SELECT 1 FROM u) RETURNING counter_id, tokens, micro_usd),
    locked AS (SELECT * FROM grants WHERE company_id = (SELECT company_id FROM u) ORDER BY id COLLATE "C" FOR UPDATE),
    one AS (
      SELECT l.*, h.amount AS own, CASE WHEN l.unit = 'tokens' THEN metered ELSE cost END AS debit
      FROM h JOIN locked l ON l.id = h.grant_id
      WHERE charged AND (metered > 0 OR cost > 0) AND (SELECT count(*) FROM h) = 1
        AND (l.unlimited OR (CASE WHEN l.unit = 'tokens' THEN metered ELSE cost END) BETWEEN 1
             AND greatest(l.amount - l.spent - l.held + h.amount, h.amount))),
    fast AS (SELECT NOT (charged AND (metered > 0 OR cost > 0)) OR EXISTS (SELECT 1 FROM one) AS ok),
    d AS (INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at)
      SELECT p_id, one.id, one.unit, one.debit, 0, p_at FROM one),
    gu AS (
      UPDATE grants SET held = grants.held - h.amount, spent = grants.spent + coalesce(one.debit, 0)
      FROM h LEFT JOIN one ON one.id = h.grant_id, fast
      WHERE grants.id = h.grant_id AND fast.ok AND EXISTS (SELECT 1 FROM locked))
    SELECT u.company_id, u.requested_model, ha.ids, ha.amts, qa.ids, qa.tokens, qa.micro, fast.ok,
      (SELECT json_agg(json_build_object('id', one.id, 'unit', one.unit, 'priority', one.priority, 'amount', one.amount, 'unlimited', one.unlimited,
          'spent', one.spent + one.debit, 'held', one.held - one.own, 'models', one.models::json, 'startsAt', one.starts_at,
          'expiresAt', one.expires_at, 'removedAt', one.removed_at)) FROM one)
      INTO r_company, r_model, hold_ids, hold_amts, q_ids, q_tokens, q_micro, burned, out_grants
      FROM u, fast, (SELECT array_agg(grant_id) AS ids, array_agg(amount) AS amts FROM h) ha,
        (SELECT array_agg(counter_id) AS ids, array_agg(tokens) AS tokens, array_agg(micro_usd) AS micro
         FROM (SELECT * FROM q ORDER BY counter_id COLLATE "C") s) qa;
    written := FOUND;
    -- Not held: the statement changed nothing, and the variables it would have set are NULL.
    burned := written AND burned;
  END IF;
  IF NOT written THEN
    SELECT id, company_id, requested_model, status, instance_id, metered_tokens, cost_micro_usd, charged_counters, settle_xid,
        hold_grant_id, hold_amount
      INTO r FROM requests WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
    row_hold := r.status = 'held' AND r.hold_grant_id IS NOT NULL;
    r_company := r.company_id;
    r_model := coalesce(r.requested_model, p_model);
    IF r.status = 'held' THEN
      IF p_sweeper IS NOT NULL AND r.instance_id IS DISTINCT FROM p_sweeper
         AND EXISTS (SELECT 1 FROM instances i WHERE i.id = r.instance_id AND i.stopped_at IS NULL) THEN
        RETURN NULL;
      END IF;
    ELSIF r.status = 'interrupted' AND p_status <> 'interrupted' THEN
      late := true;
      -- The fold's lock (src/ledger/postgres/fold.ts, FOLD_LOCK) shared: a fold running now ends first, none starts
      -- until this commits; the interrupted outcome, once folded, is taken out of the rollups before it is replaced.
      PERFORM pg_advisory_xact_lock_shared(7406211402);
      IF r.settle_xid < coalesce((SELECT folded_xid FROM rollup_state WHERE id = 1), '0'::xid8) THEN
        PERFORM tollgate_unfold(p_id);
      END IF;
    ELSE
      RETURN NULL;
    END IF;
    IF p_billed_object IS NOT NULL AND p_status = 'settled' THEN
      INSERT INTO billed_objects (object_id, kind, request_id, billed_at) VALUES (p_billed_object, p_billed_kind, p_id, p_at)
        ON CONFLICT (object_id) DO NOTHING;
      IF NOT FOUND THEN
        metered := 0; cost := 0; nano := 0; err := coalesce(err, 'already_billed');
      END IF;
    END IF;
  END IF;
  IF NOT written AND row_hold THEN
    -- The hold on the row (kept there once the row is finished, as a record, but no longer open).
    hold_ids := ARRAY[r.hold_grant_id];
    hold_amts := ARRAY[r.hold_amount];
    WITH q AS (DELETE FROM quota_holds WHERE request_id = p_id RETURNING counter_id, tokens, micro_usd)
    SELECT qa.ids, qa.tokens, qa.micro INTO q_ids, q_tokens, q_micro
      FROM (SELECT array_agg(counter_id) AS ids, array_agg(tokens) AS tokens, array_agg(micro_usd) AS micro
         FROM (SELECT * FROM q ORDER BY counter_id COLLATE "C") s) qa;
  ELSIF NOT written THEN
    WITH h AS (DELETE FROM holds WHERE request_id = p_id RETURNING grant_id, amount),
    q AS (DELETE FROM quota_holds WHERE request_id = p_id RETURNING counter_id, tokens, micro_usd)
    SELECT ha.ids, ha.amts, qa.ids, qa.tokens, qa.micro
      INTO hold_ids, hold_amts, q_ids, q_tokens, q_micro
      FROM (SELECT array_agg(grant_id) AS ids, array_agg(amount) AS amts FROM h) ha,
        (SELECT array_agg(counter_id) AS ids, array_agg(tokens) AS tokens, array_agg(micro_usd) AS micro
         FROM (SELECT * FROM q ORDER BY counter_id COLLATE "C") s) qa;
  END IF;
  IF NOT burned AND (late OR hold_ids IS NOT NULL OR (charged AND (metered > 0 OR cost > 0))) THEN
    IF late THEN
      -- The interrupted charge is given back before the real one is burned.
      PERFORM 1 FROM grants WHERE company_id = r_company ORDER BY id COLLATE "C" FOR UPDATE;
      UPDATE grants SET spent = grants.spent - d.amount FROM debits d WHERE d.request_id = p_id AND grants.id = d.grant_id;
      DELETE FROM debits WHERE request_id = p_id;
    END IF;
    -- The company's grants in burn order, with this request's holds released (what each has left:
    -- NULL unlimited; a held grant can always take its hold).
    SELECT coalesce(array_agg(x.id ORDER BY x.n), '{}'), coalesce(array_agg(x.unit ORDER BY x.n), '{}'),
           coalesce(array_agg(x.own ORDER BY x.n), '{}'),
           coalesce(array_agg(CASE WHEN x.unlimited THEN NULL
             ELSE greatest(0, x.amount - x.spent - x.held + x.own, x.own)::float8 END ORDER BY x.n), '{}'),
           coalesce(array_agg(x.n ORDER BY x.n) FILTER (WHERE x.own > 0), '{}')
      INTO ids, units, own, lefts, ord
      FROM (
        SELECT l.*, coalesce(hold_amts[array_position(hold_ids, l.id)], 0) AS own,
          row_number() OVER (ORDER BY tollgate_burn_key(l.unlimited, l.priority, l.expires_at, l.starts_at, l.created_at, l.id)) AS n
        FROM (SELECT * FROM grants WHERE company_id = r_company ORDER BY id COLLATE "C" FOR UPDATE) l) x;
    held_n := cardinality(ord);
    IF charged AND (metered > 0 OR cost > 0) THEN
      -- First over the grants held; again with the company's other usable grants after them when that overdraws.
      FOR pass IN 1..2 LOOP
        IF pass = 2 THEN
          EXIT WHEN held_n > 0 AND over[1] = 0;
          fam := tollgate_model_family(r_model);
          ord := ord || ARRAY(
            SELECT array_position(ids, g2.id) FROM grants g2
            WHERE g2.company_id = r_company AND g2.removed_at IS NULL AND NOT g2.id = ANY (coalesce(hold_ids, '{}'))
              AND (g2.starts_at IS NULL OR g2.starts_at <= p_at) AND (g2.expires_at IS NULL OR g2.expires_at > p_at)
              AND (g2.models IS NULL OR (r_model IS NOT NULL AND (g2.models::jsonb ? r_model OR g2.models::jsonb ? fam)))
            ORDER BY 1);
        END IF;
        need_t := metered;
        need_c := cost;
        amt := array_fill(NULL::bigint, ARRAY[cardinality(ord)]);
        over := array_fill(0::bigint, ARRAY[cardinality(ord)]);
        FOR j IN 1..cardinality(ord) LOOP
          EXIT WHEN need_t <= 0 AND need_c <= 0;
          k := ord[j];
          IF lefts[k] IS NULL THEN
            amt[j] := CASE WHEN units[k] = 'tokens' THEN need_t ELSE need_c END;
            need_t := 0;
            need_c := 0;
            EXIT;
          END IF;
          IF units[k] = 'tokens' THEN
            CONTINUE WHEN need_t <= 0 OR lefts[k] <= 0;
            take := least(lefts[k], need_t);
            need_c := need_c - floor(need_c::float8 * take / need_t + 0.5)::bigint;
            need_t := need_t - take;
          ELSE
            CONTINUE WHEN need_c <= 0 OR lefts[k] <= 0;
            take := least(lefts[k], need_c);
            need_t := need_t - floor(need_t::float8 * take / need_c + 0.5)::bigint;
            need_c := need_c - take;
          END IF;
          amt[j] := take;
        END LOOP;
        IF cardinality(ord) > 0 AND (need_t > 0 OR need_c > 0) THEN
          take := CASE WHEN units[ord[1]] = 'tokens' THEN need_t ELSE need_c END;
          IF take > 0 THEN
            amt[1] := coalesce(amt[1], 0) + take;
            over[1] := take;
          END IF;
        END IF;
      END LOOP;
      FOR j IN 1..cardinality(ord) LOOP
        CONTINUE WHEN amt[j] IS NULL;
        d_ids := d_ids || ids[ord[j]];
        d_units := d_units || units[ord[j]];
        d_amts := d_amts || amt[j];
        d_over := d_over || over[j];
      END LOOP;
    END IF;
    -- Running totals: each grant's hold released, its debit added; the debits written with them; the debited
    -- grants as they stand after it, in the order of the burn (for threshold alerts).
    FOR i IN 1..cardinality(ids) LOOP
      k := coalesce(array_position(d_ids, ids[i]), 0);
      IF own[i] > 0 OR k > 0 THEN
        g_ids := g_ids || ids[i];
        g_held := g_held || own[i];
        g_spent := g_spent || CASE WHEN k > 0 THEN d_amts[k] ELSE 0 END;
      END IF;
    END LOOP;
    WITH d AS (
      INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at)
        SELECT p_id, t.id, t.unit, t.amount, t.over, p_at FROM unnest(d_ids, d_units, d_amts, d_over) AS t(id, unit, amount, over)),
    u AS (
      UPDATE grants SET held = grants.held - t.h, spent = grants.spent + t.s
        FROM unnest(g_ids, g_held, g_spent) AS t(id, h, s) WHERE grants.id = t.id RETURNING grants.*)
    SELECT json_agg(json_build_object('id', u.id, 'unit', u.unit, 'priority', u.priority, 'amount', u.amount, 'unlimited', u.unlimited,
        'spent', u.spent, 'held', u.held, 'models', u.models::json, 'startsAt', u.starts_at, 'expiresAt', u.expires_at,
        'removedAt', u.removed_at) ORDER BY array_position(d_ids, u.id))
      INTO out_grants FROM u WHERE u.id = ANY (d_ids);
  END IF;
  -- Quota counters, locked in id order: holds released and the charge added (a late settlement: the difference).
  ct := CASE WHEN charged THEN metered ELSE 0 END;
  cc := CASE WHEN charged THEN cost ELSE 0 END;
  IF late THEN
    q_ids := r.charged_counters;
    IF q_ids IS NOT NULL THEN
      PERFORM 1 FROM quota_counters WHERE id = ANY (q_ids) ORDER BY id COLLATE "C" FOR UPDATE;
      WITH u AS (
        UPDATE quota_counters c SET spent_tokens = c.spent_tokens + ct - r.metered_tokens,
          spent_micro_usd = c.spent_micro_usd + cc - r.cost_micro_usd
        WHERE c.id = ANY (q_ids) RETURNING c.*)
      SELECT json_agg(json_build_object('id', u.id, 'spentTokens', u.spent_tokens, 'heldTokens', u.held_tokens,
        'spentMicroUsd', u.spent_micro_usd, 'heldMicroUsd', u.held_micro_usd) ORDER BY u.id COLLATE "C") INTO out_counters FROM u;
    END IF;
  ELSIF q_ids IS NOT NULL THEN
      PERFORM 1 FROM quota_counters WHERE id = ANY (q_ids) ORDER BY id COLLATE "C" FOR UPDATE;
      WITH u AS (
        UPDATE quota_counters c SET held_tokens = c.held_tokens - t.tokens, held_micro_usd = c.held_micro_usd - t.micro,
          spent_tokens = c.spent_tokens + ct, spent_micro_usd = c.spent_micro_usd + cc
        FROM unnest(q_ids, q_tokens, q_micro) AS t(id, tokens, micro) WHERE c.id = t.id RETURNING c.*)
      SELECT json_agg(json_build_object('id', u.id, 'spentTokens', u.spent_tokens, 'heldTokens', u.held_tokens,
        'spentMicroUsd', u.spent_micro_usd, 'heldMicroUsd', u.held_micro_usd) ORDER BY u.id COLLATE "C") INTO out_counters FROM u;
  END IF;
  IF NOT written THEN
    UPDATE requests SET status = p_status, http_status = p_http_status, returned_model = p_returned_model,
      requested_model = coalesce(requested_model, p_model), price_version = p_price_version,
      input_tokens = p_input, cached_input_tokens = p_cached, output_tokens = p_output, reasoning_tokens = p_reasoning,
      total_tokens = p_total, metered_tokens = metered, cost_micro_usd = cost, cost_nano_usd = nano, tool_calls = p_tool_calls,
      usage_source = p_usage_source, latency_ms = p_latency, ttfb_ms = p_ttfb, upstream_request_id = p_upstream_request_id,
      error_code = err, settled_at = p_at, units = p_units, price_source = p_price_source,
      charged_counters = CASE WHEN p_status = 'interrupted' THEN q_ids END,
      interrupted_at = CASE WHEN p_status = 'interrupted' THEN p_at ELSE interrupted_at END,
      settle_xid = pg_current_xact_id()
    WHERE id = p_id;
  END IF;
  RETURN json_build_object('grants', coalesce(out_grants, '[]'::json), 'counters', coalesce(out_counters, '[]'::json));
END $$;
--> statement-breakpoint
-- tollgate_finish, after marking `forwarded` the held rows `p_marks` admitted with `forwardedLater` (src/ledger/postgres/
-- marks.ts), each with its prompt's tokens from `p_mark_prompts` when admission did not count them (NULL: counted then,
-- left as it is), as SQLite does: what `charge_prompt` charges should the row be resolved after a crash. The marks come
-- first, before the settled row and its grants: each mark is sent once, and a writer that holds a marked row (its own
-- settlement) never waits on this one, so no lock order is reversed. (The form without prompts, from 0014, stays for a
-- replica not yet upgraded.)
CREATE OR REPLACE FUNCTION tollgate_finish_marking(
  p_marks text[], p_mark_prompts bigint[], p_id text, p_status text, p_at timestamptz, p_sweeper text,
  p_http_status integer, p_returned_model text, p_model text, p_price_version text,
  p_input bigint, p_cached bigint, p_output bigint, p_reasoning bigint, p_total bigint,
  p_metered bigint, p_cost_micro bigint, p_cost_nano bigint, p_tool_calls text, p_usage_source text,
  p_latency double precision, p_ttfb double precision, p_upstream_request_id text, p_error_code text,
  p_billed_object text, p_billed_kind text, p_units text, p_price_source text
) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
  UPDATE requests SET forwarded = true, estimated_prompt_tokens = coalesce(t.prompt, requests.estimated_prompt_tokens)
    FROM unnest(p_marks, p_mark_prompts) AS t(id, prompt)
    WHERE requests.id = t.id AND requests.status = 'held' AND requests.forwarded = false;
  RETURN tollgate_finish(p_id, p_status, p_at, p_sweeper, p_http_status, p_returned_model, p_model, p_price_version,
    p_input, p_cached, p_output, p_reasoning, p_total, p_metered, p_cost_micro, p_cost_nano, p_tool_calls, p_usage_source,
    p_latency, p_ttfb, p_upstream_request_id, p_error_code, p_billed_object, p_billed_kind, p_units, p_price_source);
END $$;
