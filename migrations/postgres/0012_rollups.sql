CREATE TABLE "archives" (
	"id" serial PRIMARY KEY NOT NULL,
	"before" timestamp(3) with time zone NOT NULL,
	"file" text NOT NULL,
	"started_at" timestamp(3) with time zone NOT NULL,
	"finished_at" timestamp(3) with time zone,
	"debits" bigint DEFAULT 0 NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "debits_archived" (
	"grant_id" text PRIMARY KEY NOT NULL,
	"amount" bigint DEFAULT 0 NOT NULL,
	"overdraft" bigint DEFAULT 0 NOT NULL,
	"debits" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rollup_state" (
	"id" serial PRIMARY KEY NOT NULL,
	"folded_xid" "xid8" DEFAULT '0' NOT NULL,
	"folded_at" timestamp(3) with time zone,
	"folded_rows" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_days" (
	"day" date NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"user_id" text DEFAULT '' NOT NULL,
	"key_id" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"feature" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_days_company_id_day_user_id_key_id_model_endpoint_feature_pk" PRIMARY KEY("company_id","day","user_id","key_id","model","endpoint","feature")
);
--> statement-breakpoint
CREATE TABLE "usage_days_companies" (
	"day" date NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_days_companies_company_id_day_pk" PRIMARY KEY("company_id","day")
);
--> statement-breakpoint
CREATE TABLE "usage_days_summary" (
	"day" date NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"key_id" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"feature" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_days_summary_company_id_day_key_id_model_endpoint_feature_pk" PRIMARY KEY("company_id","day","key_id","model","endpoint","feature")
);
--> statement-breakpoint
CREATE TABLE "usage_days_totals" (
	"day" date NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_days_totals_company_id_day_model_endpoint_pk" PRIMARY KEY("company_id","day","model","endpoint")
);
--> statement-breakpoint
CREATE TABLE "usage_days_users" (
	"day" date NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"user_id" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_days_users_company_id_day_user_id_pk" PRIMARY KEY("company_id","day","user_id")
);
--> statement-breakpoint
CREATE TABLE "usage_hours" (
	"hour" timestamp(0) with time zone NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"user_id" text DEFAULT '' NOT NULL,
	"key_id" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"feature" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_hours_company_id_hour_user_id_key_id_model_endpoint_feature_pk" PRIMARY KEY("company_id","hour","user_id","key_id","model","endpoint","feature")
);
--> statement-breakpoint
CREATE TABLE "usage_hours_companies" (
	"hour" timestamp(0) with time zone NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_hours_companies_company_id_hour_pk" PRIMARY KEY("company_id","hour")
);
--> statement-breakpoint
CREATE TABLE "usage_hours_summary" (
	"hour" timestamp(0) with time zone NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"key_id" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"feature" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_hours_summary_company_id_hour_key_id_model_endpoint_feature_pk" PRIMARY KEY("company_id","hour","key_id","model","endpoint","feature")
);
--> statement-breakpoint
CREATE TABLE "usage_hours_totals" (
	"hour" timestamp(0) with time zone NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_hours_totals_company_id_hour_model_endpoint_pk" PRIMARY KEY("company_id","hour","model","endpoint")
);
--> statement-breakpoint
CREATE TABLE "usage_hours_users" (
	"hour" timestamp(0) with time zone NOT NULL,
	"company_id" text DEFAULT '' NOT NULL,
	"user_id" text DEFAULT '' NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_nano_usd" bigint DEFAULT 0 NOT NULL,
	"latency_us" bigint DEFAULT 0 NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_hours_users_company_id_hour_user_id_pk" PRIMARY KEY("company_id","hour","user_id")
);
--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "settle_xid" "xid8";--> statement-breakpoint
CREATE INDEX "usage_days_user" ON "usage_days" USING btree ("company_id","user_id","day");--> statement-breakpoint
CREATE INDEX "usage_days_users_user" ON "usage_days_users" USING btree ("company_id","user_id","day");--> statement-breakpoint
CREATE INDEX "usage_hours_user" ON "usage_hours" USING btree ("company_id","user_id","hour");--> statement-breakpoint
CREATE INDEX "usage_hours_users_user" ON "usage_hours_users" USING btree ("company_id","user_id","hour");--> statement-breakpoint
CREATE INDEX "alerts_company_fired" ON "alerts" USING btree ("company_id","fired_at");--> statement-breakpoint
CREATE INDEX "requests_created" ON "requests" USING btree ("created_at","seq");--> statement-breakpoint
CREATE INDEX "requests_settle_xid" ON "requests" USING btree ("settle_xid");
--> statement-breakpoint
-- Folding starts from nothing: the folder gives every finished row a settle_xid in batches and folds it (see src/ledger/postgres/fold.ts).
INSERT INTO "rollup_state" ("id", "folded_xid", "folded_rows") VALUES (1, '0', 0);
--> statement-breakpoint
-- Operator views: the rollups (kept for ever, also for archived days) plus the finished rows not folded yet. Days and hours are UTC.
CREATE VIEW "daily_usage" AS
SELECT "day", "company_id", "user_id", "requested_model",
       SUM("requests") AS "requests",
       SUM("input_tokens") AS "input_tokens",
       SUM("cached_input_tokens") AS "cached_input_tokens",
       SUM("output_tokens") AS "output_tokens",
       SUM("total_tokens") AS "total_tokens",
       div(SUM("cost_nano_usd") + 500, 1000) AS "cost_micro_usd",
       SUM("reasoning_tokens") AS "reasoning_tokens",
       SUM("cost_nano_usd") AS "cost_nano_usd",
       SUM("errors") AS "errors"
  FROM (SELECT "day", "company_id", NULLIF("user_id", '') AS "user_id", NULLIF("model", '') AS "requested_model", "requests",
               "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "cost_nano_usd", "errors"
          FROM "usage_days"
        UNION ALL
        SELECT ("created_at" AT TIME ZONE 'UTC')::date, "company_id", "user_id", "requested_model", 1,
               "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "cost_nano_usd",
               CASE WHEN "http_status" >= 400 OR "status" = 'voided' THEN 1 ELSE 0 END
          FROM "requests"
         WHERE "status" <> 'held'
           AND ("settle_xid" IS NULL OR "settle_xid" >= (SELECT "folded_xid" FROM "rollup_state" WHERE "id" = 1))) AS u
 GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
CREATE VIEW "hourly_usage" AS
SELECT "hour", "company_id", "user_id", "key_id", "requested_model", "endpoint", "feature",
       SUM("requests") AS "requests",
       SUM("errors") AS "errors",
       SUM("input_tokens") AS "input_tokens",
       SUM("cached_input_tokens") AS "cached_input_tokens",
       SUM("output_tokens") AS "output_tokens",
       SUM("reasoning_tokens") AS "reasoning_tokens",
       SUM("total_tokens") AS "total_tokens",
       SUM("cost_nano_usd") AS "cost_nano_usd",
       SUM("latency_us") AS "latency_us",
       SUM("latency_count") AS "latency_count"
  FROM (SELECT "hour", "company_id", NULLIF("user_id", '') AS "user_id", NULLIF("key_id", '') AS "key_id",
               NULLIF("model", '') AS "requested_model", "endpoint", NULLIF("feature", '') AS "feature", "requests", "errors",
               "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "cost_nano_usd", "latency_us", "latency_count"
          FROM "usage_hours"
        UNION ALL
        SELECT date_trunc('hour', "created_at" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', "company_id", "user_id", "key_id", "requested_model", "endpoint", "feature", 1,
               CASE WHEN "http_status" >= 400 OR "status" = 'voided' THEN 1 ELSE 0 END,
               "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "cost_nano_usd",
               CASE WHEN "latency_ms" IS NULL THEN 0 ELSE floor("latency_ms" * 1000 + 0.5)::bigint END,
               CASE WHEN "latency_ms" IS NULL THEN 0 ELSE 1 END
          FROM "requests"
         WHERE "status" <> 'held'
           AND ("settle_xid" IS NULL OR "settle_xid" >= (SELECT "folded_xid" FROM "rollup_state" WHERE "id" = 1))) AS u
 GROUP BY 1, 2, 3, 4, 5, 6, 7;
--> statement-breakpoint
-- Takes a finished row's outcome out of every rollup table (the fold of src/ledger/rollups/fold-sql.ts with each
-- measure negated), for a late settlement replacing an outcome already folded (see tollgate_finish). The caller
-- holds the row and the fold's lock.
CREATE OR REPLACE FUNCTION tollgate_unfold(p_id text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_hours_companies (hour, company_id, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(r.company_id, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2 ON CONFLICT (company_id, hour) DO UPDATE SET requests = usage_hours_companies.requests + excluded.requests, errors = usage_hours_companies.errors + excluded.errors, input_tokens = usage_hours_companies.input_tokens + excluded.input_tokens, cached_input_tokens = usage_hours_companies.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_hours_companies.output_tokens + excluded.output_tokens, reasoning_tokens = usage_hours_companies.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_hours_companies.total_tokens + excluded.total_tokens, metered_tokens = usage_hours_companies.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_hours_companies.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_hours_companies.latency_us + excluded.latency_us, latency_count = usage_hours_companies.latency_count + excluded.latency_count;
  INSERT INTO usage_days_companies (day, company_id, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT (r.created_at AT TIME ZONE 'UTC')::date, coalesce(r.company_id, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2 ON CONFLICT (company_id, day) DO UPDATE SET requests = usage_days_companies.requests + excluded.requests, errors = usage_days_companies.errors + excluded.errors, input_tokens = usage_days_companies.input_tokens + excluded.input_tokens, cached_input_tokens = usage_days_companies.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_days_companies.output_tokens + excluded.output_tokens, reasoning_tokens = usage_days_companies.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_days_companies.total_tokens + excluded.total_tokens, metered_tokens = usage_days_companies.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_days_companies.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_days_companies.latency_us + excluded.latency_us, latency_count = usage_days_companies.latency_count + excluded.latency_count;
  INSERT INTO usage_hours_totals (hour, company_id, model, endpoint, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(r.company_id, ''), coalesce(r.requested_model, ''), coalesce(r.endpoint, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3, 4 ON CONFLICT (company_id, hour, model, endpoint) DO UPDATE SET requests = usage_hours_totals.requests + excluded.requests, errors = usage_hours_totals.errors + excluded.errors, input_tokens = usage_hours_totals.input_tokens + excluded.input_tokens, cached_input_tokens = usage_hours_totals.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_hours_totals.output_tokens + excluded.output_tokens, reasoning_tokens = usage_hours_totals.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_hours_totals.total_tokens + excluded.total_tokens, metered_tokens = usage_hours_totals.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_hours_totals.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_hours_totals.latency_us + excluded.latency_us, latency_count = usage_hours_totals.latency_count + excluded.latency_count;
  INSERT INTO usage_days_totals (day, company_id, model, endpoint, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT (r.created_at AT TIME ZONE 'UTC')::date, coalesce(r.company_id, ''), coalesce(r.requested_model, ''), coalesce(r.endpoint, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3, 4 ON CONFLICT (company_id, day, model, endpoint) DO UPDATE SET requests = usage_days_totals.requests + excluded.requests, errors = usage_days_totals.errors + excluded.errors, input_tokens = usage_days_totals.input_tokens + excluded.input_tokens, cached_input_tokens = usage_days_totals.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_days_totals.output_tokens + excluded.output_tokens, reasoning_tokens = usage_days_totals.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_days_totals.total_tokens + excluded.total_tokens, metered_tokens = usage_days_totals.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_days_totals.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_days_totals.latency_us + excluded.latency_us, latency_count = usage_days_totals.latency_count + excluded.latency_count;
  INSERT INTO usage_hours_summary (hour, company_id, key_id, model, endpoint, feature, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(r.company_id, ''), coalesce(r.key_id, ''), coalesce(r.requested_model, ''), coalesce(r.endpoint, ''), coalesce(r.feature, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3, 4, 5, 6 ON CONFLICT (company_id, hour, key_id, model, endpoint, feature) DO UPDATE SET requests = usage_hours_summary.requests + excluded.requests, errors = usage_hours_summary.errors + excluded.errors, input_tokens = usage_hours_summary.input_tokens + excluded.input_tokens, cached_input_tokens = usage_hours_summary.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_hours_summary.output_tokens + excluded.output_tokens, reasoning_tokens = usage_hours_summary.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_hours_summary.total_tokens + excluded.total_tokens, metered_tokens = usage_hours_summary.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_hours_summary.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_hours_summary.latency_us + excluded.latency_us, latency_count = usage_hours_summary.latency_count + excluded.latency_count;
  INSERT INTO usage_days_summary (day, company_id, key_id, model, endpoint, feature, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT (r.created_at AT TIME ZONE 'UTC')::date, coalesce(r.company_id, ''), coalesce(r.key_id, ''), coalesce(r.requested_model, ''), coalesce(r.endpoint, ''), coalesce(r.feature, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3, 4, 5, 6 ON CONFLICT (company_id, day, key_id, model, endpoint, feature) DO UPDATE SET requests = usage_days_summary.requests + excluded.requests, errors = usage_days_summary.errors + excluded.errors, input_tokens = usage_days_summary.input_tokens + excluded.input_tokens, cached_input_tokens = usage_days_summary.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_days_summary.output_tokens + excluded.output_tokens, reasoning_tokens = usage_days_summary.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_days_summary.total_tokens + excluded.total_tokens, metered_tokens = usage_days_summary.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_days_summary.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_days_summary.latency_us + excluded.latency_us, latency_count = usage_days_summary.latency_count + excluded.latency_count;
  INSERT INTO usage_hours_users (hour, company_id, user_id, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(r.company_id, ''), coalesce(r.user_id, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3 ON CONFLICT (company_id, hour, user_id) DO UPDATE SET requests = usage_hours_users.requests + excluded.requests, errors = usage_hours_users.errors + excluded.errors, input_tokens = usage_hours_users.input_tokens + excluded.input_tokens, cached_input_tokens = usage_hours_users.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_hours_users.output_tokens + excluded.output_tokens, reasoning_tokens = usage_hours_users.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_hours_users.total_tokens + excluded.total_tokens, metered_tokens = usage_hours_users.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_hours_users.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_hours_users.latency_us + excluded.latency_us, latency_count = usage_hours_users.latency_count + excluded.latency_count;
  INSERT INTO usage_days_users (day, company_id, user_id, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT (r.created_at AT TIME ZONE 'UTC')::date, coalesce(r.company_id, ''), coalesce(r.user_id, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3 ON CONFLICT (company_id, day, user_id) DO UPDATE SET requests = usage_days_users.requests + excluded.requests, errors = usage_days_users.errors + excluded.errors, input_tokens = usage_days_users.input_tokens + excluded.input_tokens, cached_input_tokens = usage_days_users.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_days_users.output_tokens + excluded.output_tokens, reasoning_tokens = usage_days_users.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_days_users.total_tokens + excluded.total_tokens, metered_tokens = usage_days_users.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_days_users.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_days_users.latency_us + excluded.latency_us, latency_count = usage_days_users.latency_count + excluded.latency_count;
  INSERT INTO usage_hours (hour, company_id, user_id, key_id, model, endpoint, feature, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(r.company_id, ''), coalesce(r.user_id, ''), coalesce(r.key_id, ''), coalesce(r.requested_model, ''), coalesce(r.endpoint, ''), coalesce(r.feature, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (company_id, hour, user_id, key_id, model, endpoint, feature) DO UPDATE SET requests = usage_hours.requests + excluded.requests, errors = usage_hours.errors + excluded.errors, input_tokens = usage_hours.input_tokens + excluded.input_tokens, cached_input_tokens = usage_hours.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_hours.output_tokens + excluded.output_tokens, reasoning_tokens = usage_hours.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_hours.total_tokens + excluded.total_tokens, metered_tokens = usage_hours.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_hours.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_hours.latency_us + excluded.latency_us, latency_count = usage_hours.latency_count + excluded.latency_count;
  INSERT INTO usage_days (day, company_id, user_id, key_id, model, endpoint, feature, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count) SELECT (r.created_at AT TIME ZONE 'UTC')::date, coalesce(r.company_id, ''), coalesce(r.user_id, ''), coalesce(r.key_id, ''), coalesce(r.requested_model, ''), coalesce(r.endpoint, ''), coalesce(r.feature, ''), -coalesce(count(*), 0), -coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0), -coalesce(sum(r.input_tokens), 0), -coalesce(sum(r.cached_input_tokens), 0), -coalesce(sum(r.output_tokens), 0), -coalesce(sum(r.reasoning_tokens), 0), -coalesce(sum(r.total_tokens), 0), -coalesce(sum(r.metered_tokens), 0), -coalesce(sum(r.cost_nano_usd), 0), -coalesce(sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE floor(r.latency_ms * 1000 + 0.5)::bigint END), 0), -coalesce(count(r.latency_ms), 0) FROM requests r WHERE r.status <> 'held' AND r.id = p_id GROUP BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (company_id, day, user_id, key_id, model, endpoint, feature) DO UPDATE SET requests = usage_days.requests + excluded.requests, errors = usage_days.errors + excluded.errors, input_tokens = usage_days.input_tokens + excluded.input_tokens, cached_input_tokens = usage_days.cached_input_tokens + excluded.cached_input_tokens, output_tokens = usage_days.output_tokens + excluded.output_tokens, reasoning_tokens = usage_days.reasoning_tokens + excluded.reasoning_tokens, total_tokens = usage_days.total_tokens + excluded.total_tokens, metered_tokens = usage_days.metered_tokens + excluded.metered_tokens, cost_nano_usd = usage_days.cost_nano_usd + excluded.cost_nano_usd, latency_us = usage_days.latency_us + excluded.latency_us, latency_count = usage_days.latency_count + excluded.latency_count;
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
      RETURNING company_id, requested_model),
    h AS (DELETE FROM holds WHERE request_id = p_id AND EXISTS (SELECT 1 FROM u) RETURNING grant_id, amount),
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
    SELECT u.company_id, u.requested_model,
      (SELECT array_agg(grant_id) FROM h), (SELECT array_agg(amount) FROM h),
      (SELECT array_agg(counter_id ORDER BY counter_id COLLATE "C") FROM q),
      (SELECT array_agg(tokens ORDER BY counter_id COLLATE "C") FROM q),
      (SELECT array_agg(micro_usd ORDER BY counter_id COLLATE "C") FROM q),
      fast.ok,
      (SELECT json_agg(json_build_object('id', one.id, 'unit', one.unit, 'priority', one.priority, 'amount', one.amount, 'unlimited', one.unlimited,
          'spent', one.spent + one.debit, 'held', one.held - one.own, 'models', one.models::json, 'startsAt', one.starts_at,
          'expiresAt', one.expires_at, 'removedAt', one.removed_at)) FROM one)
      INTO r_company, r_model, hold_ids, hold_amts, q_ids, q_tokens, q_micro, burned, out_grants
      FROM u, fast;
    written := FOUND;
    -- Not held: the statement changed nothing, and the variables it would have set are NULL.
    burned := written AND burned;
  END IF;
  IF NOT written THEN
    SELECT id, company_id, requested_model, status, instance_id, metered_tokens, cost_micro_usd, charged_counters, settle_xid
      INTO r FROM requests WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
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
  IF NOT written THEN
    WITH h AS (DELETE FROM holds WHERE request_id = p_id RETURNING grant_id, amount),
    q AS (DELETE FROM quota_holds WHERE request_id = p_id RETURNING counter_id, tokens, micro_usd)
    SELECT (SELECT array_agg(grant_id) FROM h), (SELECT array_agg(amount) FROM h),
      (SELECT array_agg(counter_id ORDER BY counter_id COLLATE "C") FROM q),
      (SELECT array_agg(tokens ORDER BY counter_id COLLATE "C") FROM q),
      (SELECT array_agg(micro_usd ORDER BY counter_id COLLATE "C") FROM q)
      INTO hold_ids, hold_amts, q_ids, q_tokens, q_micro;
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
