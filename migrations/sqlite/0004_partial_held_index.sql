DROP INDEX `requests_status`;--> statement-breakpoint
CREATE INDEX `requests_held` ON `requests` (`status`) WHERE "requests"."status" = 'held';