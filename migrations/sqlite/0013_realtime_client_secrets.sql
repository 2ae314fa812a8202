CREATE TABLE `realtime_client_secrets` (
	`hash` text PRIMARY KEY NOT NULL,
	`company_id` text NOT NULL,
	`key_id` text,
	`user_id` text,
	`role` text NOT NULL,
	`jwt_session_id` text,
	`model` text NOT NULL,
	`session` text NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text
);
--> statement-breakpoint
CREATE INDEX `realtime_client_secrets_expiry` ON `realtime_client_secrets` (`expires_at`);