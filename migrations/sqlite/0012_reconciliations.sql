CREATE TABLE `reconciliations` (
	`id` text PRIMARY KEY NOT NULL,
	`trigger` text NOT NULL,
	`started_at` text NOT NULL,
	`finished_at` text,
	`from_day` text NOT NULL,
	`to_day` text NOT NULL,
	`status` text NOT NULL,
	`report` text,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `reconciliations_started` ON `reconciliations` (`started_at`);--> statement-breakpoint
ALTER TABLE `requests` ADD `units` text;