CREATE TABLE "spike_minutes" (
	"subject" text NOT NULL,
	"minute" bigint NOT NULL,
	"tokens" bigint NOT NULL,
	CONSTRAINT "spike_minutes_subject_minute_pk" PRIMARY KEY("subject","minute")
);
--> statement-breakpoint
CREATE INDEX "spike_minutes_minute" ON "spike_minutes" USING btree ("minute");