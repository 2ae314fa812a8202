CREATE TABLE `deferred_objects` (
	`object_id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`request_id` text NOT NULL,
	`company_id` text NOT NULL,
	`model` text,
	`multiplier` real DEFAULT 1 NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`subject` text DEFAULT '' NOT NULL,
	`deferred_at` text NOT NULL,
	`next_poll_at` text NOT NULL,
	`polls` integer DEFAULT 0 NOT NULL,
	`misses` integer DEFAULT 0 NOT NULL,
	`claimed_until` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deferred_objects_request_id_unique` ON `deferred_objects` (`request_id`);--> statement-breakpoint
CREATE INDEX `deferred_objects_due` ON `deferred_objects` (`next_poll_at`);