ALTER TABLE `grants` ADD `priority` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `requests` ADD `end_user` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `tags` text;