ALTER TABLE "grants" ADD COLUMN "priority" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "end_user" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "tags" text;