-- Views for operators (read them with sqlite3; see README, "Reports"). Times are ISO 8601 UTC text,
-- tokens and money integers, money in micro-USD. Requests still `held` (in flight) are left out of
-- daily_usage; open_holds lists them.
CREATE VIEW `daily_usage` AS
SELECT substr(`created_at`, 1, 10) AS `day`,
       `company_id`,
       `user_id`,
       `requested_model`,
       COUNT(*) AS `requests`,
       SUM(`input_tokens`) AS `input_tokens`,
       SUM(`cached_input_tokens`) AS `cached_input_tokens`,
       SUM(`output_tokens`) AS `output_tokens`,
       SUM(`total_tokens`) AS `total_tokens`,
       SUM(`cost_micro_usd`) AS `cost_micro_usd`
  FROM `requests`
 WHERE `status` <> 'held'
 GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
-- One row per grant still in the config (removed grants are left out, as in the balance report).
-- `remaining` is amount - spent - held, never below 0, NULL for an unlimited grant; `active` is 1
-- when the grant counts now: started (starts_at <= now) and not expired (expires_at > now).
CREATE VIEW `grant_balances` AS
SELECT `id` AS `grant_id`,
       `company_id`,
       `unit`,
       `unlimited`,
       `models`,
       `amount`,
       `spent`,
       `held`,
       CASE WHEN `unlimited` THEN NULL ELSE MAX(0, `amount` - `spent` - `held`) END AS `remaining`,
       CASE WHEN (`starts_at` IS NULL OR `starts_at` <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             AND (`expires_at` IS NULL OR `expires_at` > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            THEN 1 ELSE 0 END AS `active`,
       `starts_at`,
       `expires_at`,
       `purchase_id`
  FROM `grants`
 WHERE `removed_at` IS NULL;
--> statement-breakpoint
-- One row per open hold: each request still `held` with each grant it holds (amount in that grant's
-- unit). A held request with no hold (an unbilled path) appears once with grant_id NULL.
-- `age_seconds` is whole seconds since the request was admitted.
CREATE VIEW `open_holds` AS
SELECT `r`.`id` AS `request_id`,
       `r`.`company_id`,
       `r`.`created_at`,
       CAST((julianday('now') - julianday(`r`.`created_at`)) * 86400 AS INTEGER) AS `age_seconds`,
       `r`.`hold_tokens`,
       `h`.`grant_id`,
       `g`.`unit`,
       `h`.`amount`
  FROM `requests` `r`
  LEFT JOIN `holds` `h` ON `h`.`request_id` = `r`.`id`
  LEFT JOIN `grants` `g` ON `g`.`id` = `h`.`grant_id`
 WHERE `r`.`status` = 'held';
