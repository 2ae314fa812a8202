CREATE TABLE "rate_buckets" (
	"id" text PRIMARY KEY NOT NULL,
	"level" double precision,
	"at_ms" bigint
);
