ALTER TABLE `requests` ADD `conversation_id` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `cost_nano_usd` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `requests` ADD `tool_calls` text;--> statement-breakpoint
CREATE INDEX `requests_conversation` ON `requests` (`company_id`,`conversation_id`,`created_at`) WHERE "requests"."conversation_id" IS NOT NULL;--> statement-breakpoint
-- Existing rows were costed in whole micro-USD: their exact nano-USD cost is that amount × 1000.
UPDATE `requests` SET `cost_nano_usd` = `cost_micro_usd` * 1000;
--> statement-breakpoint
-- daily_usage: cost_micro_usd is now the exact nano-USD costs summed and rounded once, half up.
DROP VIEW `daily_usage`;
--> statement-breakpoint
CREATE VIEW `daily_usage` AS
SELECT substr(`created_at`, 1, 10) AS `day`,
       `company_id`,
       `user_id`,
       `requested_model`,
       COUNT(*) AS `requests`,
       SUM(`input_tokens`) AS `input_tokens`,
       SUM(`cached_input_tokens`) AS `cached_input_tokens`,
       SUM(`output_tokens`) AS `output_tokens`,
       SUM(`total_tokens`) AS `total_tokens`,
       (SUM(`cost_nano_usd`) + 500) / 1000 AS `cost_micro_usd`
  FROM `requests`
 WHERE `status` <> 'held'
 GROUP BY 1, 2, 3, 4;
