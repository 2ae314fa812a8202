CREATE TABLE `objects` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`company_id` text NOT NULL,
	`key_id` text,
	`user_id` text,
	`request_id` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `requests` ADD `client_request_id` text;--> statement-breakpoint
-- Responses and batches billed before owners were recorded keep their company: the request that billed them names it.
INSERT OR IGNORE INTO `objects` (`id`, `kind`, `company_id`, `key_id`, `user_id`, `request_id`, `created_at`)
SELECT b.`object_id`, b.`kind`, r.`company_id`, r.`key_id`, r.`user_id`, b.`request_id`, b.`billed_at` FROM `billed_objects` b JOIN `requests` r ON r.`id` = b.`request_id`;
