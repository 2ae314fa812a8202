CREATE TABLE "alerts" (
	"key" text PRIMARY KEY NOT NULL,
	"fired_at" timestamp(3) with time zone NOT NULL,
	"kind" text NOT NULL,
	"company_id" text NOT NULL,
	"payload" text NOT NULL,
	"delivered_at" timestamp(3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "billed_objects" (
	"object_id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"request_id" text NOT NULL,
	"billed_at" timestamp(3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "debits" (
	"request_id" text NOT NULL,
	"grant_id" text NOT NULL,
	"unit" text NOT NULL,
	"amount" bigint NOT NULL,
	"overdraft" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL,
	CONSTRAINT "debits_request_id_grant_id_pk" PRIMARY KEY("request_id","grant_id")
);
--> statement-breakpoint
CREATE TABLE "grants" (
	"id" text PRIMARY KEY NOT NULL,
	"company_id" text NOT NULL,
	"unit" text NOT NULL,
	"amount" bigint NOT NULL,
	"unlimited" boolean DEFAULT false NOT NULL,
	"models" text,
	"starts_at" timestamp(3) with time zone,
	"expires_at" timestamp(3) with time zone,
	"purchase_id" text,
	"note" text,
	"removed_at" timestamp(3) with time zone,
	"spent" bigint DEFAULT 0 NOT NULL,
	"held" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL,
	"updated_at" timestamp(3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "holds" (
	"request_id" text NOT NULL,
	"grant_id" text NOT NULL,
	"amount" bigint NOT NULL,
	CONSTRAINT "holds_request_id_grant_id_pk" PRIMARY KEY("request_id","grant_id")
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"pid" integer NOT NULL,
	"host" text NOT NULL,
	"started_at" timestamp(3) with time zone NOT NULL,
	"heartbeat_at" timestamp(3) with time zone NOT NULL,
	"stopped_at" timestamp(3) with time zone
);
--> statement-breakpoint
CREATE TABLE "purchases" (
	"id" text PRIMARY KEY NOT NULL,
	"date" date NOT NULL,
	"total_tokens" bigint NOT NULL,
	"cost_per_token_usd" double precision NOT NULL,
	"provider" text NOT NULL,
	"expires_at" timestamp(3) with time zone,
	"notes" text,
	"removed_at" timestamp(3) with time zone
);
--> statement-breakpoint
CREATE TABLE "quota_counters" (
	"id" text PRIMARY KEY NOT NULL,
	"company_id" text NOT NULL,
	"scope" text NOT NULL,
	"scope_id" text NOT NULL,
	"window" text NOT NULL,
	"window_key" text NOT NULL,
	"spent_tokens" bigint DEFAULT 0 NOT NULL,
	"held_tokens" bigint DEFAULT 0 NOT NULL,
	"spent_micro_usd" bigint DEFAULT 0 NOT NULL,
	"held_micro_usd" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "quota_holds" (
	"request_id" text NOT NULL,
	"counter_id" text NOT NULL,
	"tokens" bigint NOT NULL,
	"micro_usd" bigint NOT NULL,
	CONSTRAINT "quota_holds_request_id_counter_id_pk" PRIMARY KEY("request_id","counter_id")
);
--> statement-breakpoint
CREATE TABLE "quota_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL,
	"company_id" text NOT NULL,
	"user_id" text NOT NULL,
	"requested" text NOT NULL,
	"justification" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "requests" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL,
	"company_id" text NOT NULL,
	"key_id" text,
	"user_id" text,
	"session_id" text,
	"feature" text,
	"endpoint" text NOT NULL,
	"requested_model" text,
	"returned_model" text,
	"stream" boolean NOT NULL,
	"status" text NOT NULL,
	"instance_id" text,
	"estimated_prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"hold_tokens" bigint NOT NULL,
	"hold_micro_usd" bigint DEFAULT 0 NOT NULL,
	"http_status" integer,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"cached_input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"reasoning_tokens" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"metered_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_micro_usd" bigint DEFAULT 0 NOT NULL,
	"price_version" text,
	"usage_source" text,
	"latency_ms" double precision,
	"ttfb_ms" double precision,
	"upstream_request_id" text,
	"error_code" text,
	"settled_at" timestamp(3) with time zone
);
--> statement-breakpoint
CREATE INDEX "debits_grant" ON "debits" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "grants_company" ON "grants" USING btree ("company_id");--> statement-breakpoint
CREATE INDEX "quota_counters_scope" ON "quota_counters" USING btree ("scope","scope_id");--> statement-breakpoint
CREATE INDEX "requests_company_created" ON "requests" USING btree ("company_id","created_at");--> statement-breakpoint
CREATE INDEX "requests_held" ON "requests" USING btree ("instance_id") WHERE "requests"."status" = 'held';