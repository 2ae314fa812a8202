CREATE TABLE `alerts` (
	`key` text PRIMARY KEY NOT NULL,
	`fired_at` text NOT NULL,
	`kind` text NOT NULL,
	`company_id` text NOT NULL,
	`payload` text NOT NULL,
	`delivered_at` text,
	`attempts` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `quota_counters` (
	`id` text PRIMARY KEY NOT NULL,
	`company_id` text NOT NULL,
	`scope` text NOT NULL,
	`scope_id` text NOT NULL,
	`window` text NOT NULL,
	`window_key` text NOT NULL,
	`spent_tokens` integer DEFAULT 0 NOT NULL,
	`held_tokens` integer DEFAULT 0 NOT NULL,
	`spent_micro_usd` integer DEFAULT 0 NOT NULL,
	`held_micro_usd` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `quota_counters_scope` ON `quota_counters` (`scope`,`scope_id`);--> statement-breakpoint
CREATE TABLE `quota_holds` (
	`request_id` text NOT NULL,
	`counter_id` text NOT NULL,
	`tokens` integer NOT NULL,
	`micro_usd` integer NOT NULL,
	PRIMARY KEY(`request_id`, `counter_id`)
);
--> statement-breakpoint
CREATE TABLE `quota_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` text NOT NULL,
	`company_id` text NOT NULL,
	`user_id` text NOT NULL,
	`requested` text NOT NULL,
	`justification` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `requests` ADD `session_id` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `feature` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `price_version` text;