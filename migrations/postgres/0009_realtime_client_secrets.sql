CREATE TABLE "realtime_client_secrets" (
	"hash" text PRIMARY KEY NOT NULL,
	"company_id" text NOT NULL,
	"key_id" text,
	"user_id" text,
	"role" text NOT NULL,
	"jwt_session_id" text,
	"model" text NOT NULL,
	"session" text NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL,
	"expires_at" timestamp(3) with time zone NOT NULL,
	"used_at" timestamp(3) with time zone
);
--> statement-breakpoint
CREATE INDEX "realtime_client_secrets_expiry" ON "realtime_client_secrets" USING btree ("expires_at");