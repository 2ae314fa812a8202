ALTER TABLE `requests` ADD `hold_grant_id` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `hold_amount` integer;--> statement-breakpoint
-- One row per open hold: each request still `held` with each grant it holds (amount in that grant's
-- unit), whether the hold is on the request row (one grant) or in `holds` (several). A held request
-- with no hold (an unbilled path) appears once with grant_id NULL. `age_seconds` is whole seconds
-- since the request was admitted.
DROP VIEW `open_holds`;
--> statement-breakpoint
CREATE VIEW `open_holds` AS
SELECT `r`.`id` AS `request_id`,
       `r`.`company_id`,
       `r`.`created_at`,
       CAST((julianday('now') - julianday(`r`.`created_at`)) * 86400 AS INTEGER) AS `age_seconds`,
       `r`.`hold_tokens`,
       COALESCE(`h`.`grant_id`, `r`.`hold_grant_id`) AS `grant_id`,
       `g`.`unit`,
       COALESCE(`h`.`amount`, `r`.`hold_amount`) AS `amount`
  FROM `requests` `r`
  LEFT JOIN `holds` `h` ON `h`.`request_id` = `r`.`id`
  LEFT JOIN `grants` `g` ON `g`.`id` = COALESCE(`h`.`grant_id`, `r`.`hold_grant_id`)
 WHERE `r`.`status` = 'held';
