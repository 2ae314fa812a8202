CREATE TABLE `file_estimates` (
	`file_id` text PRIMARY KEY NOT NULL,
	`company_id` text NOT NULL,
	`purpose` text NOT NULL,
	`request_id` text NOT NULL,
	`created_at` text NOT NULL,
	`lines` integer NOT NULL,
	`unusable` text,
	`models` text NOT NULL
);
