CREATE TABLE "deferred_objects" (
	"object_id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"request_id" text NOT NULL,
	"company_id" text NOT NULL,
	"model" text,
	"multiplier" double precision DEFAULT 1 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"subject" text DEFAULT '' NOT NULL,
	"deferred_at" timestamp(3) with time zone NOT NULL,
	"next_poll_at" timestamp(3) with time zone NOT NULL,
	"polls" integer DEFAULT 0 NOT NULL,
	"misses" integer DEFAULT 0 NOT NULL,
	"claimed_until" timestamp(3) with time zone,
	CONSTRAINT "deferred_objects_request_id_unique" UNIQUE("request_id")
);
--> statement-breakpoint
CREATE INDEX "deferred_objects_due" ON "deferred_objects" USING btree ("next_poll_at");