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
