CREATE TABLE "file_estimates" (
	"file_id" text PRIMARY KEY NOT NULL,
	"company_id" text NOT NULL,
	"purpose" text NOT NULL,
	"request_id" text NOT NULL,
	"created_at" timestamp(3) with time zone NOT NULL,
	"lines" bigint NOT NULL,
	"unusable" text,
	"models" text NOT NULL
);
