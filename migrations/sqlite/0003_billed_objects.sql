CREATE TABLE `billed_objects` (
	`object_id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`request_id` text NOT NULL,
	`billed_at` text NOT NULL
);
