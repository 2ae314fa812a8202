CREATE TABLE `objects` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`company_id` text NOT NULL,
	`key_id` text,
	`user_id` text,
	`request_id` text NOT NULL,
	`created_at` text NOT NULL
);
