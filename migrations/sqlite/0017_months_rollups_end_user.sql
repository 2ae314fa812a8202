CREATE TABLE `usage_months_totals` (
	`month` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
	`model` text DEFAULT '' NOT NULL,
	`endpoint` text DEFAULT '' NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`cached_input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`reasoning_tokens` integer DEFAULT 0 NOT NULL,
	`total_tokens` integer DEFAULT 0 NOT NULL,
	`metered_tokens` integer DEFAULT 0 NOT NULL,
	`cost_nano_usd` integer DEFAULT 0 NOT NULL,
	`latency_us` integer DEFAULT 0 NOT NULL,
	`latency_count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`company_id`, `month`, `model`, `endpoint`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `usage_months_users` (
	`month` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
	`user_id` text DEFAULT '' NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`cached_input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`reasoning_tokens` integer DEFAULT 0 NOT NULL,
	`total_tokens` integer DEFAULT 0 NOT NULL,
	`metered_tokens` integer DEFAULT 0 NOT NULL,
	`cost_nano_usd` integer DEFAULT 0 NOT NULL,
	`latency_us` integer DEFAULT 0 NOT NULL,
	`latency_count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`company_id`, `month`, `user_id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `requests_end_user` ON `requests` (`end_user`,`created_at`) WHERE "requests"."end_user" IS NOT NULL;
--> statement-breakpoint
-- The months already folded: Σ of their days (the fold keeps the three in step from here on, in one transaction).
INSERT INTO `usage_months_totals` (`month`, `company_id`, `model`, `endpoint`, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count)
SELECT substr(`day`, 1, 7), `company_id`, `model`, `endpoint`, sum(requests), sum(errors), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(reasoning_tokens), sum(total_tokens), sum(metered_tokens), sum(cost_nano_usd), sum(latency_us), sum(latency_count) FROM `usage_days_totals` GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
INSERT INTO `usage_months_users` (`month`, `company_id`, `user_id`, requests, errors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, metered_tokens, cost_nano_usd, latency_us, latency_count)
SELECT substr(`day`, 1, 7), `company_id`, `user_id`, sum(requests), sum(errors), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(reasoning_tokens), sum(total_tokens), sum(metered_tokens), sum(cost_nano_usd), sum(latency_us), sum(latency_count) FROM `usage_days_users` GROUP BY 1, 2, 3;
