ALTER TABLE `requests` ADD `conversation_id` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `cost_nano_usd` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `requests` ADD `tool_calls` text;--> statement-breakpoint
CREATE INDEX `requests_conversation` ON `requests` (`company_id`,`conversation_id`,`created_at`) WHERE "requests"."conversation_id" IS NOT NULL;--> statement-breakpoint
-- Existing rows were costed in whole micro-USD: their exact nano-USD cost is that amount × 1000.
UPDATE `requests` SET `cost_nano_usd` = `cost_micro_usd` * 1000;
