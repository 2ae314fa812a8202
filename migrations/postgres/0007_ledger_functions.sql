ALTER TABLE "instances" ADD COLUMN "connected_since" timestamp(3) with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "charged_counters" text[];--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "interrupted_at" timestamp(3) with time zone;
--> statement-breakpoint
-- The ledger's writes on Postgres as functions, so that each takes one round trip (src/ledger/postgres/).
-- The arithmetic mirrors src/ledger/allocate.ts (the SQLite ledger's); test/ledger-contract/differential.test.ts
-- runs the same operations on both and compares every answer, hold and debit.

-- A model's family (src/metering/model.ts, modelFamily): fine-tune and deployment suffixes dropped, then a dated snapshot suffix.
CREATE OR REPLACE FUNCTION tollgate_model_family(m text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(CASE WHEN m LIKE 'ft:%' THEN split_part(m, ':', 2) ELSE split_part(m, ':', 1) END,
                        '-(\d{4}-\d{2}-\d{2}|\d{4})$', '')
$$;
--> statement-breakpoint
-- An instant as the ledger port gives it: ISO 8601 UTC with milliseconds (2026-11-22T01:02:03.456Z).
CREATE OR REPLACE FUNCTION tollgate_iso(t timestamptz) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
--> statement-breakpoint
-- Burns `tokens` (tokens grants) and `micro` (micro-USD grants) over grants in the order given (allocate.ts, planBurn):
-- `lft` is what each has left (NULL: unlimited). Returns each position's debit (NULL: untouched) and its overdraft;
-- what none can cover overdraws the first position.
CREATE OR REPLACE FUNCTION tollgate_plan_burn(unit text[], lft bigint[], tokens bigint, micro bigint,
                                              OUT amount bigint[], OUT overdraft bigint[])
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  n int := coalesce(array_length(unit, 1), 0);
  need_t bigint := tokens;
  need_c bigint := micro;
  take bigint;
  over bigint;
BEGIN
  amount := array_fill(NULL::bigint, ARRAY[n]);
  overdraft := array_fill(0::bigint, ARRAY[n]);
  FOR i IN 1..n LOOP
    EXIT WHEN need_t <= 0 AND need_c <= 0;
    IF lft[i] IS NULL THEN
      amount[i] := CASE WHEN unit[i] = 'tokens' THEN need_t ELSE need_c END;
      need_t := 0;
      need_c := 0;
      EXIT;
    END IF;
    IF unit[i] = 'tokens' THEN
      CONTINUE WHEN need_t <= 0 OR lft[i] <= 0;
      take := least(lft[i], need_t);
      need_c := need_c - floor(need_c::float8 * take::float8 / need_t::float8 + 0.5)::bigint;
      need_t := need_t - take;
    ELSE
      CONTINUE WHEN need_c <= 0 OR lft[i] <= 0;
      take := least(lft[i], need_c);
      need_t := need_t - floor(need_t::float8 * take::float8 / need_c::float8 + 0.5)::bigint;
      need_c := need_c - take;
    END IF;
    amount[i] := take;
  END LOOP;
  IF n > 0 AND (need_t > 0 OR need_c > 0) THEN
    over := CASE WHEN unit[1] = 'tokens' THEN need_t ELSE need_c END;
    IF over > 0 THEN
      amount[1] := coalesce(amount[1], 0) + over;
      overdraft[1] := over;
    END IF;
  END IF;
END $$;
--> statement-breakpoint
-- Settles, voids or interrupts a request in one call (src/ledger/postgres/book.ts, finishRow): locks its row, then
-- the company's grants (id order), then its quota counters (id order); releases its holds; burns the charge first
-- from the grants it held, then the company's other active grants covering the model, in burn order; writes the
-- row, debits and running totals. NULL when the row is not held (nothing changes), except a late settlement of a
-- row a sweep resolved (`interrupted`: its replica was declared gone while serving it), which replaces the
-- interrupted charge by the real one, once. `p_sweeper` (a sweep by that instance) leaves a row another live
-- instance holds (one that registered again and took it over).
CREATE OR REPLACE FUNCTION tollgate_finish(
  p_id text, p_status text, p_at timestamptz, p_sweeper text,
  p_http_status integer, p_returned_model text, p_model text, p_price_version text,
  p_input bigint, p_cached bigint, p_output bigint, p_reasoning bigint, p_total bigint,
  p_metered bigint, p_cost_micro bigint, p_cost_nano bigint, p_tool_calls text, p_usage_source text,
  p_latency double precision, p_ttfb double precision, p_upstream_request_id text, p_error_code text,
  p_billed_object text, p_billed_kind text
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  r record;
  g record;
  late boolean := false;
  metered bigint := p_metered;
  cost bigint := p_cost_micro;
  nano bigint := p_cost_nano;
  err text := p_error_code;
  charged boolean := p_status <> 'voided';
  model text;
  fam text;
  hold_ids text[];
  hold_amts bigint[];
  q_ids text[];
  q_tokens bigint[];
  q_micro bigint[];
  -- the company's grants, in burn order
  ids text[] := '{}';
  units text[] := '{}';
  lefts bigint[] := '{}';
  own bigint[] := '{}';
  usable boolean[] := '{}';
  states json[] := '{}';
  -- the burn: positions into the arrays above, in burn order
  ord int[] := '{}';
  plan record;
  held_n int;
  k int;
  d_ids text[] := '{}';
  d_units text[] := '{}';
  d_amts bigint[] := '{}';
  d_over bigint[] := '{}';
  g_ids text[] := '{}';
  g_held bigint[] := '{}';
  g_spent bigint[] := '{}';
  out_grants json[] := '{}';
  out_counters json;
  ct bigint;
  cc bigint;
BEGIN
  SELECT id, company_id, requested_model, status, instance_id, metered_tokens, cost_micro_usd, charged_counters
    INTO r FROM requests WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF r.status = 'held' THEN
    IF p_sweeper IS NOT NULL AND r.instance_id IS DISTINCT FROM p_sweeper
       AND EXISTS (SELECT 1 FROM instances i WHERE i.id = r.instance_id AND i.stopped_at IS NULL) THEN
      RETURN NULL;
    END IF;
  ELSIF r.status = 'interrupted' AND p_status <> 'interrupted' THEN
    late := true;
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
  SELECT array_agg(grant_id), array_agg(amount) INTO hold_ids, hold_amts FROM holds WHERE request_id = p_id;
  IF late OR hold_ids IS NOT NULL OR (charged AND (metered > 0 OR cost > 0)) THEN
    IF late THEN
      -- The interrupted charge is given back before the real one is burned.
      PERFORM 1 FROM grants WHERE company_id = r.company_id ORDER BY id COLLATE "C" FOR UPDATE;
      UPDATE grants SET spent = grants.spent - d.amount FROM debits d WHERE d.request_id = p_id AND grants.id = d.grant_id;
      DELETE FROM debits WHERE request_id = p_id;
    END IF;
    model := coalesce(r.requested_model, p_model);
    fam := tollgate_model_family(model);
    FOR g IN
      SELECT s.* FROM (SELECT * FROM grants WHERE company_id = r.company_id ORDER BY id COLLATE "C" FOR UPDATE) s
      ORDER BY s.unlimited DESC, s.expires_at IS NULL, s.expires_at, coalesce(s.starts_at, s.created_at), s.id COLLATE "C"
    LOOP
      k := coalesce(array_position(hold_ids, g.id), 0);
      ids := ids || g.id;
      units := units || g.unit;
      own := own || CASE WHEN k > 0 THEN hold_amts[k] ELSE 0 END;
      -- What is left with this request's hold released; a held grant can always take its hold.
      lefts := lefts || CASE
        WHEN g.unlimited THEN NULL
        WHEN k > 0 THEN greatest(greatest(0, g.amount - g.spent - (g.held - hold_amts[k])), hold_amts[k])
        ELSE greatest(0, g.amount - g.spent - g.held) END;
      usable := usable || (g.removed_at IS NULL AND (g.starts_at IS NULL OR g.starts_at <= p_at)
        AND (g.expires_at IS NULL OR g.expires_at > p_at)
        AND (g.models IS NULL OR (model IS NOT NULL AND (g.models::jsonb ? model OR g.models::jsonb ? fam))));
      states := states || json_build_object('id', g.id, 'unit', g.unit, 'amount', g.amount, 'unlimited', g.unlimited,
        'spent', g.spent, 'held', g.held - CASE WHEN k > 0 THEN hold_amts[k] ELSE 0 END,
        'models', g.models::json, 'startsAt', tollgate_iso(g.starts_at), 'expiresAt', tollgate_iso(g.expires_at),
        'removedAt', tollgate_iso(g.removed_at));
    END LOOP;
    IF charged AND (metered > 0 OR cost > 0) THEN
      FOR i IN 1..coalesce(array_length(ids, 1), 0) LOOP
        IF own[i] > 0 OR (hold_ids IS NOT NULL AND ids[i] = ANY (hold_ids)) THEN ord := ord || i; END IF;
      END LOOP;
      held_n := coalesce(array_length(ord, 1), 0);
      SELECT * INTO plan FROM tollgate_plan_burn(
        ARRAY(SELECT units[o] FROM unnest(ord) WITH ORDINALITY t(o, n) ORDER BY n),
          ARRAY(SELECT lefts[o] FROM unnest(ord) WITH ORDINALITY t(o, n) ORDER BY n), metered, cost);
      IF held_n = 0 OR plan.overdraft[1] > 0 THEN
        FOR i IN 1..coalesce(array_length(ids, 1), 0) LOOP
          IF usable[i] AND NOT (i = ANY (ord)) THEN ord := ord || i; END IF;
        END LOOP;
        SELECT * INTO plan FROM tollgate_plan_burn(
          ARRAY(SELECT units[o] FROM unnest(ord) WITH ORDINALITY t(o, n) ORDER BY n),
          ARRAY(SELECT lefts[o] FROM unnest(ord) WITH ORDINALITY t(o, n) ORDER BY n), metered, cost);
      END IF;
      FOR j IN 1..coalesce(array_length(ord, 1), 0) LOOP
        CONTINUE WHEN plan.amount[j] IS NULL;
        d_ids := d_ids || ids[ord[j]];
        d_units := d_units || units[ord[j]];
        d_amts := d_amts || plan.amount[j];
        d_over := d_over || plan.overdraft[j];
        out_grants := out_grants || (states[ord[j]]::jsonb || jsonb_build_object('spent', (states[ord[j]]->>'spent')::bigint + plan.amount[j]))::json;
      END LOOP;
    END IF;
    -- Running totals: each grant's hold released, its debit added.
    FOR i IN 1..coalesce(array_length(ids, 1), 0) LOOP
      k := coalesce(array_position(d_ids, ids[i]), 0);
      IF own[i] > 0 OR k > 0 THEN
        g_ids := g_ids || ids[i];
        g_held := g_held || own[i];
        g_spent := g_spent || CASE WHEN k > 0 THEN d_amts[k] ELSE 0 END;
      END IF;
    END LOOP;
    UPDATE grants SET held = grants.held - t.h, spent = grants.spent + t.s
      FROM unnest(g_ids, g_held, g_spent) AS t(id, h, s) WHERE grants.id = t.id;
    INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at)
      SELECT p_id, t.id, t.unit, t.amount, t.over, p_at FROM unnest(d_ids, d_units, d_amts, d_over) AS t(id, unit, amount, over);
    IF hold_ids IS NOT NULL THEN DELETE FROM holds WHERE request_id = p_id; END IF;
  END IF;
  -- Quota counters, locked in id order: holds released and the charge added (a late settlement: the difference).
  ct := CASE WHEN charged THEN metered ELSE 0 END;
  cc := CASE WHEN charged THEN cost ELSE 0 END;
  IF late THEN
    q_ids := r.charged_counters;
    PERFORM 1 FROM quota_counters WHERE id = ANY (q_ids) ORDER BY id COLLATE "C" FOR UPDATE;
    WITH u AS (
      UPDATE quota_counters c SET spent_tokens = c.spent_tokens + ct - r.metered_tokens,
        spent_micro_usd = c.spent_micro_usd + cc - r.cost_micro_usd
      WHERE c.id = ANY (q_ids) RETURNING c.*)
    SELECT json_agg(json_build_object('id', u.id, 'spentTokens', u.spent_tokens, 'heldTokens', u.held_tokens,
      'spentMicroUsd', u.spent_micro_usd, 'heldMicroUsd', u.held_micro_usd) ORDER BY u.id COLLATE "C") INTO out_counters FROM u;
  ELSE
    SELECT array_agg(counter_id ORDER BY counter_id COLLATE "C"), array_agg(tokens ORDER BY counter_id COLLATE "C"),
           array_agg(micro_usd ORDER BY counter_id COLLATE "C")
      INTO q_ids, q_tokens, q_micro FROM quota_holds WHERE request_id = p_id;
    IF q_ids IS NOT NULL THEN
      PERFORM 1 FROM quota_counters WHERE id = ANY (q_ids) ORDER BY id COLLATE "C" FOR UPDATE;
      WITH u AS (
        UPDATE quota_counters c SET held_tokens = c.held_tokens - t.tokens, held_micro_usd = c.held_micro_usd - t.micro,
          spent_tokens = c.spent_tokens + ct, spent_micro_usd = c.spent_micro_usd + cc
        FROM unnest(q_ids, q_tokens, q_micro) AS t(id, tokens, micro) WHERE c.id = t.id RETURNING c.*)
      SELECT json_agg(json_build_object('id', u.id, 'spentTokens', u.spent_tokens, 'heldTokens', u.held_tokens,
        'spentMicroUsd', u.spent_micro_usd, 'heldMicroUsd', u.held_micro_usd) ORDER BY u.id COLLATE "C") INTO out_counters FROM u;
      DELETE FROM quota_holds WHERE request_id = p_id;
    END IF;
  END IF;
  UPDATE requests SET status = p_status, http_status = p_http_status, returned_model = p_returned_model,
    requested_model = coalesce(requested_model, p_model), price_version = p_price_version,
    input_tokens = p_input, cached_input_tokens = p_cached, output_tokens = p_output, reasoning_tokens = p_reasoning,
    total_tokens = p_total, metered_tokens = metered, cost_micro_usd = cost, cost_nano_usd = nano, tool_calls = p_tool_calls,
    usage_source = p_usage_source, latency_ms = p_latency, ttfb_ms = p_ttfb, upstream_request_id = p_upstream_request_id,
    error_code = err, settled_at = p_at,
    charged_counters = CASE WHEN p_status = 'interrupted' THEN q_ids END,
    interrupted_at = CASE WHEN p_status = 'interrupted' THEN p_at ELSE interrupted_at END
  WHERE id = p_id;
  RETURN json_build_object('grants', coalesce(array_to_json(out_grants), '[]'::json), 'counters', coalesce(out_counters, '[]'::json));
END $$;
--> statement-breakpoint
-- One heartbeat of instance `p_id` on the ledger's clock (src/ledger/postgres/instances.ts). A heartbeat after a gap
-- longer than `p_gap_ms` restarts its `connected_since`. Only once it has been connected for a whole lapse does it
-- declare gone (stopped) the instances silent for `p_lapse_ms`: a lapse it watched while itself connected, so a
-- ledger that was down for everyone (or this instance cut off) never has a live replica's holds swept.
-- false: this instance was itself declared gone (fenced); it must register again before admitting.
CREATE OR REPLACE FUNCTION tollgate_heartbeat(p_id text, p_gap_ms double precision, p_lapse_ms double precision)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  since timestamptz;
BEGIN
  UPDATE instances SET
    connected_since = CASE WHEN heartbeat_at >= now() - make_interval(secs => p_gap_ms / 1000) THEN connected_since ELSE now() END,
    heartbeat_at = now()
  WHERE id = p_id AND stopped_at IS NULL
  RETURNING connected_since INTO since;
  IF NOT FOUND THEN RETURN false; END IF;
  IF since <= now() - make_interval(secs => p_lapse_ms / 1000) THEN
    UPDATE instances SET stopped_at = now()
    WHERE stopped_at IS NULL AND id <> p_id AND heartbeat_at < now() - make_interval(secs => p_lapse_ms / 1000);
  END IF;
  RETURN true;
END $$;
--> statement-breakpoint
-- Registers instance `p_id` (a process, or one that found itself declared gone and comes back under a new id) and
-- takes over the rows it still serves (`p_adopt`, those still held), so that no sweep resolves them.
CREATE OR REPLACE FUNCTION tollgate_register(p_id text, p_pid integer, p_host text, p_adopt text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  INSERT INTO instances (id, pid, host, started_at, heartbeat_at, connected_since) VALUES (p_id, p_pid, p_host, now(), now(), now());
  UPDATE requests SET instance_id = p_id WHERE id = ANY (p_adopt) AND status = 'held';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
--> statement-breakpoint
-- Admits a request in one call (src/ledger/postgres/book.ts, admitRow), with the arithmetic of src/ledger/allocate.ts
-- and capacity.ts: locks the company's grants (id order), then the quota counters it is given (id order, created when
-- missing); takes the active grants covering the model in burn order (unlimited first, earliest expiry, oldest start,
-- id: columns, so that a priority column or a key scope is one more term); decides the hold from what the grants and
-- every quota window can still cover; writes the row, its holds and the running totals. Grant capacity is tokens, a
-- micro-USD grant's priced at `p_pico` (pico-USD per token). The quota counters are data: one entry per window
-- (`p_counters` … `p_limit_micro`, NULL limits none), whatever their scope. Returns
--   {"ok":true,"hold":…,"tokens":…,"microUsd":…,"unlimited":…,"quotas":[{"t":…,"c":…}]}  (standing after the hold),
--   {"ok":false,"quota":i|null,"available":…}  (refused by quota window i, 0-based, or by the grants), or
--   {"fenced":true} when `p_instance` was declared gone (nothing written).
-- The row's id conflicting (its admission withdrawn first, see tollgate_cancel) raises unique_violation.
CREATE OR REPLACE FUNCTION tollgate_admit(
  p_id text, p_at timestamptz, p_company text, p_key text, p_user text, p_session text, p_feature text,
  p_endpoint text, p_model text, p_stream boolean, p_prompt bigint, p_instance text, p_conversation text,
  p_client_request_id text, p_forwarded boolean,
  p_min bigint, p_max bigint, p_clamp boolean, p_pico bigint, p_cost_only boolean,
  p_counters text[], p_scopes text[], p_scope_ids text[], p_windows text[], p_window_keys text[],
  p_limit_tokens bigint[], p_limit_micro bigint[]
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  g record;
  c record;
  fam text := tollgate_model_family(p_model);
  pico float8 := CASE WHEN p_cost_only THEN 1000000 ELSE p_pico END;
  inf numeric := 'Infinity';
  -- eligible grants, in burn order
  e_ids text[] := '{}';
  e_units text[] := '{}';
  e_unl boolean[] := '{}';
  e_left numeric[] := '{}';
  e_cap numeric[] := '{}';
  grant_cap numeric := 0;
  nq int := coalesce(array_length(p_counters, 1), 0);
  q_spent_t bigint[];
  q_held_t bigint[];
  q_spent_c bigint[];
  q_held_c bigint[];
  q_cap numeric[];
  cap numeric;
  available numeric;
  lo bigint := greatest(1, p_min);
  hi bigint;
  hold bigint;
  hold_tokens bigint;
  hold_micro bigint;
  need numeric;
  take numeric;
  p_ids text[] := '{}';
  p_amts bigint[] := '{}';
  found_n int;
  std_tokens numeric := 0;
  std_micro numeric := 0;
  std_unl boolean := false;
  quotas json[] := '{}';
  k int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM instances WHERE id = p_instance AND stopped_at IS NULL) THEN
    RETURN json_build_object('fenced', true);
  END IF;
  hi := greatest(lo, p_max);
  FOR g IN
    SELECT s.* FROM (SELECT * FROM grants WHERE company_id = p_company ORDER BY id COLLATE "C" FOR UPDATE) s
    ORDER BY s.unlimited DESC, s.expires_at IS NULL, s.expires_at, coalesce(s.starts_at, s.created_at), s.id COLLATE "C"
  LOOP
    CONTINUE WHEN g.removed_at IS NOT NULL OR (g.starts_at IS NOT NULL AND g.starts_at > p_at)
      OR (g.expires_at IS NOT NULL AND g.expires_at <= p_at);
    CONTINUE WHEN g.models IS NOT NULL AND (p_model IS NULL OR NOT (g.models::jsonb ? p_model OR g.models::jsonb ? fam));
    CONTINUE WHEN p_cost_only AND NOT g.unlimited AND g.unit <> 'micro_usd';
    e_ids := e_ids || g.id;
    e_units := e_units || g.unit;
    e_unl := e_unl || g.unlimited;
    e_left := e_left || CASE WHEN g.unlimited THEN inf ELSE greatest(0, g.amount - g.spent - g.held)::numeric END;
    cap := CASE
      WHEN g.unlimited OR g.unit = 'tokens' THEN e_left[array_length(e_left, 1)]
      WHEN pico = 0 THEN inf
      ELSE floor(greatest(0, g.amount - g.spent - g.held)::float8 * 1000000 / pico)::numeric END;
    e_cap := e_cap || cap;
    grant_cap := grant_cap + cap;
  END LOOP;
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
    SELECT array_agg(q.spent_tokens ORDER BY t.n), array_agg(q.held_tokens ORDER BY t.n),
           array_agg(q.spent_micro_usd ORDER BY t.n), array_agg(q.held_micro_usd ORDER BY t.n)
      INTO q_spent_t, q_held_t, q_spent_c, q_held_c
      FROM unnest(p_counters) WITH ORDINALITY AS t(id, n) JOIN quota_counters q ON q.id = t.id;
    q_cap := array_fill(inf, ARRAY[nq]);
    FOR i IN 1..nq LOOP
      IF p_limit_tokens[i] IS NOT NULL AND NOT p_cost_only THEN
        q_cap[i] := greatest(0, p_limit_tokens[i] - q_spent_t[i] - q_held_t[i]);
      END IF;
      IF p_limit_micro[i] IS NOT NULL AND pico > 0 THEN
        q_cap[i] := least(q_cap[i], floor(greatest(0, p_limit_micro[i] - q_spent_c[i] - q_held_c[i])::float8 * 1000000 / pico)::numeric);
      END IF;
      available := least(available, q_cap[i]);
    END LOOP;
  END IF;
  IF available >= hi THEN
    hold := hi;
  ELSIF p_clamp AND available > lo THEN
    hold := available::bigint;
  ELSE
    FOR i IN 1..nq LOOP
      IF q_cap[i] = available AND q_cap[i] < grant_cap THEN
        RETURN json_build_object('ok', false, 'quota', i - 1, 'available', available);
      END IF;
    END LOOP;
    RETURN json_build_object('ok', false, 'quota', NULL, 'available', available);
  END IF;
  hold_micro := CASE WHEN p_cost_only THEN hold ELSE ceil(hold::float8 * pico / 1000000)::bigint END;
  hold_tokens := CASE WHEN p_cost_only THEN 0 ELSE hold END;
  -- The hold, spread over the eligible grants in burn order (allocate.ts, planHold).
  need := hold;
  FOR i IN 1..coalesce(array_length(e_ids, 1), 0) LOOP
    EXIT WHEN need <= 0;
    take := least(e_cap[i], need);
    CONTINUE WHEN take <= 0;
    p_ids := p_ids || e_ids[i];
    p_amts := p_amts || CASE WHEN e_units[i] = 'tokens' THEN take::bigint
      ELSE least(e_left[i], ceil(take::float8 * pico / 1000000)::numeric)::bigint END;
    need := need - take;
  END LOOP;
  INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model,
      stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, instance_id, conversation_id,
      client_request_id, forwarded)
    VALUES (p_id, p_at, p_company, p_key, p_user, p_session, p_feature, p_endpoint, p_model, p_stream, 'held',
      p_prompt, hold_tokens, hold_micro, p_instance, p_conversation, p_client_request_id, p_forwarded);
  IF array_length(p_ids, 1) > 0 THEN
    INSERT INTO holds (request_id, grant_id, amount) SELECT p_id, t.g, t.a FROM unnest(p_ids, p_amts) AS t(g, a);
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
-- Writes the held row of a request billed by what it returns or not at all (no hold, no check), unless `p_instance`
-- was declared gone: one statement; no row inserted means fenced.
CREATE OR REPLACE FUNCTION tollgate_open(
  p_id text, p_at timestamptz, p_company text, p_key text, p_user text, p_session text, p_feature text,
  p_endpoint text, p_model text, p_stream boolean, p_prompt bigint, p_instance text, p_conversation text,
  p_client_request_id text, p_forwarded boolean
) RETURNS boolean LANGUAGE sql AS $$
  INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model,
      stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, instance_id, conversation_id,
      client_request_id, forwarded)
  SELECT p_id, p_at, p_company, p_key, p_user, p_session, p_feature, p_endpoint, p_model, p_stream, 'held', p_prompt, 0, 0,
      p_instance, p_conversation, p_client_request_id, p_forwarded
  WHERE EXISTS (SELECT 1 FROM instances WHERE id = p_instance AND stopped_at IS NULL)
  RETURNING true
$$;
