CREATE TABLE `debits` (
	`request_id` text NOT NULL,
	`grant_id` text NOT NULL,
	`unit` text NOT NULL,
	`amount` integer NOT NULL,
	`overdraft` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`request_id`, `grant_id`)
);
--> statement-breakpoint
CREATE INDEX `debits_grant` ON `debits` (`grant_id`);--> statement-breakpoint
CREATE TABLE `grants` (
	`id` text PRIMARY KEY NOT NULL,
	`company_id` text NOT NULL,
	`unit` text NOT NULL,
	`amount` integer NOT NULL,
	`unlimited` integer DEFAULT false NOT NULL,
	`models` text,
	`starts_at` text,
	`expires_at` text,
	`purchase_id` text,
	`note` text,
	`removed_at` text,
	`spent` integer DEFAULT 0 NOT NULL,
	`held` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `grants_company` ON `grants` (`company_id`);--> statement-breakpoint
CREATE TABLE `holds` (
	`request_id` text NOT NULL,
	`grant_id` text NOT NULL,
	`amount` integer NOT NULL,
	PRIMARY KEY(`request_id`, `grant_id`)
);
--> statement-breakpoint
CREATE TABLE `purchases` (
	`id` text PRIMARY KEY NOT NULL,
	`date` text NOT NULL,
	`total_tokens` integer NOT NULL,
	`cost_per_token_usd` real NOT NULL,
	`provider` text NOT NULL,
	`expires_at` text,
	`notes` text,
	`removed_at` text
);
--> statement-breakpoint
CREATE TABLE `requests` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` text NOT NULL,
	`company_id` text NOT NULL,
	`key_id` text,
	`user_id` text,
	`endpoint` text NOT NULL,
	`requested_model` text,
	`returned_model` text,
	`stream` integer NOT NULL,
	`status` text NOT NULL,
	`estimated_prompt_tokens` integer DEFAULT 0 NOT NULL,
	`hold_tokens` integer NOT NULL,
	`hold_micro_usd` integer DEFAULT 0 NOT NULL,
	`http_status` integer,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`cached_input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`reasoning_tokens` integer DEFAULT 0 NOT NULL,
	`total_tokens` integer DEFAULT 0 NOT NULL,
	`metered_tokens` integer DEFAULT 0 NOT NULL,
	`cost_micro_usd` integer DEFAULT 0 NOT NULL,
	`usage_source` text,
	`latency_ms` real,
	`ttfb_ms` real,
	`upstream_request_id` text,
	`error_code` text,
	`settled_at` text
);
--> statement-breakpoint
CREATE INDEX `requests_company_created` ON `requests` (`company_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `requests_status` ON `requests` (`status`);