CREATE TABLE `archives` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`before` text NOT NULL,
	`file` text NOT NULL,
	`started_at` text NOT NULL,
	`finished_at` text,
	`debits` integer DEFAULT 0 NOT NULL,
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
	`latency_count` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `debits_archived` (
	`grant_id` text PRIMARY KEY NOT NULL,
	`amount` integer DEFAULT 0 NOT NULL,
	`overdraft` integer DEFAULT 0 NOT NULL,
	`debits` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rollup_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`folded_seq` integer DEFAULT 0 NOT NULL,
	`folded_at` text,
	`folded_rows` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `usage_days` (
	`day` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
	`user_id` text DEFAULT '' NOT NULL,
	`key_id` text DEFAULT '' NOT NULL,
	`model` text DEFAULT '' NOT NULL,
	`endpoint` text DEFAULT '' NOT NULL,
	`feature` text DEFAULT '' NOT NULL,
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
	PRIMARY KEY(`company_id`, `day`, `user_id`, `key_id`, `model`, `endpoint`, `feature`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `usage_days_user` ON `usage_days` (`company_id`,`user_id`,`day`);--> statement-breakpoint
CREATE TABLE `usage_days_companies` (
	`day` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
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
	PRIMARY KEY(`company_id`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `usage_days_summary` (
	`day` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
	`key_id` text DEFAULT '' NOT NULL,
	`model` text DEFAULT '' NOT NULL,
	`endpoint` text DEFAULT '' NOT NULL,
	`feature` text DEFAULT '' NOT NULL,
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
	PRIMARY KEY(`company_id`, `day`, `key_id`, `model`, `endpoint`, `feature`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `usage_days_totals` (
	`day` text NOT NULL,
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
	PRIMARY KEY(`company_id`, `day`, `model`, `endpoint`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `usage_days_users` (
	`day` text NOT NULL,
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
	PRIMARY KEY(`company_id`, `day`, `user_id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `usage_days_users_user` ON `usage_days_users` (`company_id`,`user_id`,`day`);--> statement-breakpoint
CREATE TABLE `usage_hours` (
	`hour` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
	`user_id` text DEFAULT '' NOT NULL,
	`key_id` text DEFAULT '' NOT NULL,
	`model` text DEFAULT '' NOT NULL,
	`endpoint` text DEFAULT '' NOT NULL,
	`feature` text DEFAULT '' NOT NULL,
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
	PRIMARY KEY(`company_id`, `hour`, `user_id`, `key_id`, `model`, `endpoint`, `feature`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `usage_hours_user` ON `usage_hours` (`company_id`,`user_id`,`hour`);--> statement-breakpoint
CREATE TABLE `usage_hours_companies` (
	`hour` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
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
	PRIMARY KEY(`company_id`, `hour`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `usage_hours_summary` (
	`hour` text NOT NULL,
	`company_id` text DEFAULT '' NOT NULL,
	`key_id` text DEFAULT '' NOT NULL,
	`model` text DEFAULT '' NOT NULL,
	`endpoint` text DEFAULT '' NOT NULL,
	`feature` text DEFAULT '' NOT NULL,
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
	PRIMARY KEY(`company_id`, `hour`, `key_id`, `model`, `endpoint`, `feature`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `usage_hours_totals` (
	`hour` text NOT NULL,
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
	PRIMARY KEY(`company_id`, `hour`, `model`, `endpoint`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `usage_hours_users` (
	`hour` text NOT NULL,
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
	PRIMARY KEY(`company_id`, `hour`, `user_id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `usage_hours_users_user` ON `usage_hours_users` (`company_id`,`user_id`,`hour`);--> statement-breakpoint
ALTER TABLE `requests` ADD `settle_seq` integer;--> statement-breakpoint
CREATE INDEX `requests_created` ON `requests` (`created_at`);--> statement-breakpoint
CREATE INDEX `requests_settle_seq` ON `requests` (`settle_seq`);--> statement-breakpoint
CREATE INDEX `alerts_company_fired` ON `alerts` (`company_id`,`fired_at`);--> statement-breakpoint
-- Folding starts from nothing: the folder gives every finished row a settle_seq in batches and folds it (see src/ledger/sqlite/fold.ts).
INSERT INTO `rollup_state` (`id`, `folded_seq`, `folded_rows`) VALUES (1, 0, 0);
--> statement-breakpoint
-- The operator views read the rollups (kept for ever, also for archived days) plus the finished rows not folded yet.
DROP VIEW IF EXISTS `daily_usage`;
--> statement-breakpoint
CREATE VIEW `daily_usage` AS
SELECT `day`, `company_id`, `user_id`, `requested_model`,
       SUM(`requests`) AS `requests`,
       SUM(`input_tokens`) AS `input_tokens`,
       SUM(`cached_input_tokens`) AS `cached_input_tokens`,
       SUM(`output_tokens`) AS `output_tokens`,
       SUM(`total_tokens`) AS `total_tokens`,
       (SUM(`cost_nano_usd`) + 500) / 1000 AS `cost_micro_usd`,
       SUM(`reasoning_tokens`) AS `reasoning_tokens`,
       SUM(`cost_nano_usd`) AS `cost_nano_usd`,
       SUM(`errors`) AS `errors`
  FROM (SELECT `day`, `company_id`, NULLIF(`user_id`, '') AS `user_id`, NULLIF(`model`, '') AS `requested_model`, `requests`,
               `input_tokens`, `cached_input_tokens`, `output_tokens`, `reasoning_tokens`, `total_tokens`, `cost_nano_usd`, `errors`
          FROM `usage_days`
        UNION ALL
        SELECT substr(`created_at`, 1, 10), `company_id`, `user_id`, `requested_model`, 1,
               `input_tokens`, `cached_input_tokens`, `output_tokens`, `reasoning_tokens`, `total_tokens`, `cost_nano_usd`,
               CASE WHEN `http_status` >= 400 OR `status` = 'voided' THEN 1 ELSE 0 END
          FROM `requests`
         WHERE `status` <> 'held'
           AND (`settle_seq` IS NULL OR `settle_seq` > (SELECT `folded_seq` FROM `rollup_state` WHERE `id` = 1)))
 GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
CREATE VIEW `hourly_usage` AS
SELECT `hour`, `company_id`, `user_id`, `key_id`, `requested_model`, `endpoint`, `feature`,
       SUM(`requests`) AS `requests`,
       SUM(`errors`) AS `errors`,
       SUM(`input_tokens`) AS `input_tokens`,
       SUM(`cached_input_tokens`) AS `cached_input_tokens`,
       SUM(`output_tokens`) AS `output_tokens`,
       SUM(`reasoning_tokens`) AS `reasoning_tokens`,
       SUM(`total_tokens`) AS `total_tokens`,
       SUM(`cost_nano_usd`) AS `cost_nano_usd`,
       SUM(`latency_us`) AS `latency_us`,
       SUM(`latency_count`) AS `latency_count`
  FROM (SELECT `hour`, `company_id`, NULLIF(`user_id`, '') AS `user_id`, NULLIF(`key_id`, '') AS `key_id`,
               NULLIF(`model`, '') AS `requested_model`, `endpoint`, NULLIF(`feature`, '') AS `feature`, `requests`, `errors`,
               `input_tokens`, `cached_input_tokens`, `output_tokens`, `reasoning_tokens`, `total_tokens`, `cost_nano_usd`, `latency_us`, `latency_count`
          FROM `usage_hours`
        UNION ALL
        SELECT substr(`created_at`, 1, 13) || ':00:00.000Z', `company_id`, `user_id`, `key_id`, `requested_model`, `endpoint`, `feature`, 1,
               CASE WHEN `http_status` >= 400 OR `status` = 'voided' THEN 1 ELSE 0 END,
               `input_tokens`, `cached_input_tokens`, `output_tokens`, `reasoning_tokens`, `total_tokens`, `cost_nano_usd`,
               CASE WHEN `latency_ms` IS NULL THEN 0 ELSE CAST(`latency_ms` * 1000 + 0.5 AS INTEGER) END,
               CASE WHEN `latency_ms` IS NULL THEN 0 ELSE 1 END
          FROM `requests`
         WHERE `status` <> 'held'
           AND (`settle_seq` IS NULL OR `settle_seq` > (SELECT `folded_seq` FROM `rollup_state` WHERE `id` = 1)))
 GROUP BY 1, 2, 3, 4, 5, 6, 7;
