-- A cheaper settlement for the common case. Most of Postgres's time in `tollgate_finish` (0015_hold_on_row.sql) went
-- to starting the executor of its one large statement (ten CTEs, most of them idle for a request held on one grant)
-- rather than to running it: each call builds every node of that plan. Its common case becomes a few small statements
-- here; everything else is the function of 0015, kept whole under the name `tollgate_finish_general`.
-- `tollgate_finish` keeps its signature and its answers (replicas of the previous release call it unchanged, and
-- `tollgate_finish_marking` calls it by name).
ALTER FUNCTION tollgate_finish(text, text, timestamptz, text, integer, text, text, text, bigint, bigint, bigint, bigint,
  bigint, bigint, bigint, bigint, text, text, double precision, double precision, text, text, text, text, text, text)
  RENAME TO tollgate_finish_general;
--> statement-breakpoint
-- Settles or voids a request held on one grant (`hold_grant_id`, 0015) whose charge that grant covers — the common
-- case — in small statements, with the locks in the order every writer takes them: its row (FOR UPDATE, before
-- anything is decided), the company's grants (id order), its quota counters (id order). Then writes the row, the
-- grant's running totals and its debit, and releases the quota holds, charging the counters. Its answer is
-- `tollgate_finish_general`'s: {"grants": [the debited grant as it stands after], "counters": [the quota counters]}.
-- Every other case (interrupted, a billed object, a hold spread over several grants, a charge the held grant does
-- not cover, a row that is not held) is `tollgate_finish_general`, unchanged: the row lock taken here is this
-- transaction's, so taking it again there neither waits nor changes the order.
CREATE OR REPLACE FUNCTION tollgate_finish(
  p_id text, p_status text, p_at timestamptz, p_sweeper text,
  p_http_status integer, p_returned_model text, p_model text, p_price_version text,
  p_input bigint, p_cached bigint, p_output bigint, p_reasoning bigint, p_total bigint,
  p_metered bigint, p_cost_micro bigint, p_cost_nano bigint, p_tool_calls text, p_usage_source text,
  p_latency double precision, p_ttfb double precision, p_upstream_request_id text, p_error_code text,
  p_billed_object text, p_billed_kind text, p_units text, p_price_source text
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  r_company text;
  r_status text;
  g_id text;
  own bigint;
  g grants%ROWTYPE;
  debit bigint := 0;
  charge boolean := p_status = 'settled' AND (p_metered > 0 OR p_cost_micro > 0);
  out_grants json := '[]';
  out_counters json := '[]';
  q_ids text[];
  q_tokens bigint[];
  q_micro bigint[];
  ct bigint := CASE WHEN p_status = 'settled' THEN p_metered ELSE 0 END;
  cc bigint := CASE WHEN p_status = 'settled' THEN p_cost_micro ELSE 0 END;
BEGIN
  IF p_status NOT IN ('settled', 'voided') OR p_billed_object IS NOT NULL OR p_sweeper IS NOT NULL THEN
    RETURN tollgate_finish_general(p_id, p_status, p_at, p_sweeper, p_http_status, p_returned_model, p_model,
      p_price_version, p_input, p_cached, p_output, p_reasoning, p_total, p_metered, p_cost_micro, p_cost_nano,
      p_tool_calls, p_usage_source, p_latency, p_ttfb, p_upstream_request_id, p_error_code, p_billed_object,
      p_billed_kind, p_units, p_price_source);
  END IF;
  SELECT company_id, status, hold_grant_id, hold_amount INTO r_company, r_status, g_id, own
    FROM requests WHERE id = p_id FOR UPDATE;
  IF FOUND AND r_status = 'held' AND g_id IS NOT NULL THEN
    PERFORM 1 FROM grants WHERE company_id = r_company ORDER BY id COLLATE "C" FOR UPDATE;
    SELECT * INTO g FROM grants WHERE id = g_id;
    IF NOT FOUND THEN
      g_id := NULL;
    ELSIF charge THEN
      -- allocate.ts, planBurn: a tokens grant takes the tokens (and with them all the micro-USD), a micro-USD grant
      -- the reverse, an unlimited one whatever is asked; covered when that is at least 1 and within what the grant
      -- has left with this request's hold given back.
      debit := CASE WHEN g.unit = 'tokens' THEN p_metered ELSE p_cost_micro END;
      IF NOT (g.unlimited OR debit BETWEEN 1 AND greatest(g.amount - g.spent - g.held + own, own)) THEN
        g_id := NULL;
      END IF;
    END IF;
  ELSE
    g_id := NULL;
  END IF;
  IF g_id IS NULL THEN
    RETURN tollgate_finish_general(p_id, p_status, p_at, p_sweeper, p_http_status, p_returned_model, p_model,
      p_price_version, p_input, p_cached, p_output, p_reasoning, p_total, p_metered, p_cost_micro, p_cost_nano,
      p_tool_calls, p_usage_source, p_latency, p_ttfb, p_upstream_request_id, p_error_code, p_billed_object,
      p_billed_kind, p_units, p_price_source);
  END IF;
  UPDATE requests SET status = p_status, http_status = p_http_status, returned_model = p_returned_model,
    requested_model = coalesce(requested_model, p_model), price_version = p_price_version,
    input_tokens = p_input, cached_input_tokens = p_cached, output_tokens = p_output, reasoning_tokens = p_reasoning,
    total_tokens = p_total, metered_tokens = p_metered, cost_micro_usd = p_cost_micro, cost_nano_usd = p_cost_nano,
    tool_calls = p_tool_calls, usage_source = p_usage_source, latency_ms = p_latency, ttfb_ms = p_ttfb,
    upstream_request_id = p_upstream_request_id, error_code = p_error_code, settled_at = p_at, units = p_units,
    price_source = p_price_source, charged_counters = NULL, settle_xid = pg_current_xact_id()
  WHERE id = p_id;
  UPDATE grants SET held = held - own, spent = spent + debit WHERE id = g_id;
  IF charge THEN
    INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at)
      VALUES (p_id, g_id, g.unit, debit, 0, p_at);
    out_grants := json_build_array(json_build_object('id', g.id, 'unit', g.unit, 'priority', g.priority,
      'amount', g.amount, 'unlimited', g.unlimited, 'spent', g.spent + debit, 'held', g.held - own,
      'models', g.models::json, 'startsAt', g.starts_at, 'expiresAt', g.expires_at, 'removedAt', g.removed_at));
  END IF;
  IF EXISTS (SELECT 1 FROM quota_holds WHERE request_id = p_id) THEN
    -- Quota counters, locked in id order: holds released and the charge added.
    WITH q AS (DELETE FROM quota_holds WHERE request_id = p_id RETURNING counter_id, tokens, micro_usd)
    SELECT array_agg(counter_id ORDER BY counter_id COLLATE "C"), array_agg(tokens ORDER BY counter_id COLLATE "C"),
        array_agg(micro_usd ORDER BY counter_id COLLATE "C")
      INTO q_ids, q_tokens, q_micro FROM q;
    PERFORM 1 FROM quota_counters WHERE id = ANY (q_ids) ORDER BY id COLLATE "C" FOR UPDATE;
    WITH u AS (
      UPDATE quota_counters c SET held_tokens = c.held_tokens - t.tokens, held_micro_usd = c.held_micro_usd - t.micro,
        spent_tokens = c.spent_tokens + ct, spent_micro_usd = c.spent_micro_usd + cc
      FROM unnest(q_ids, q_tokens, q_micro) AS t(id, tokens, micro) WHERE c.id = t.id RETURNING c.*)
    SELECT coalesce(json_agg(json_build_object('id', u.id, 'spentTokens', u.spent_tokens, 'heldTokens', u.held_tokens,
      'spentMicroUsd', u.spent_micro_usd, 'heldMicroUsd', u.held_micro_usd) ORDER BY u.id COLLATE "C"), '[]')
      INTO out_counters FROM u;
  END IF;
  RETURN json_build_object('grants', out_grants, 'counters', out_counters);
END $$;
