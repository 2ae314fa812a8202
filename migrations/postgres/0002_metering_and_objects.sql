CREATE TABLE "objects" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"company_id" text NOT NULL,
	"key_id" text,
	"user_id" text,
	"request_id" text NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "conversation_id" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "cost_nano_usd" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "tool_calls" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "client_request_id" text;--> statement-breakpoint
CREATE INDEX "requests_conversation" ON "requests" USING btree ("company_id","conversation_id","created_at") WHERE "requests"."conversation_id" IS NOT NULL;--> statement-breakpoint
-- Rows written before nano-USD costs: their exact cost is their micro-USD cost.
UPDATE "requests" SET "cost_nano_usd" = "cost_micro_usd" * 1000;--> statement-breakpoint
-- Responses and batches billed before owners were recorded keep their company: the request that billed them names it.
INSERT INTO "objects" ("id", "kind", "company_id", "key_id", "user_id", "request_id", "created_at")
SELECT b."object_id", b."kind", r."company_id", r."key_id", r."user_id", b."request_id", b."billed_at" FROM "billed_objects" b JOIN "requests" r ON r."id" = b."request_id"
ON CONFLICT ("id") DO NOTHING;