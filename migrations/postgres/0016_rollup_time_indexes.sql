CREATE INDEX "usage_days_day" ON "usage_days" USING btree ("day");--> statement-breakpoint
CREATE INDEX "usage_days_companies_day" ON "usage_days_companies" USING btree ("day");--> statement-breakpoint
CREATE INDEX "usage_days_summary_day" ON "usage_days_summary" USING btree ("day");--> statement-breakpoint
CREATE INDEX "usage_days_totals_day" ON "usage_days_totals" USING btree ("day");--> statement-breakpoint
CREATE INDEX "usage_days_users_day" ON "usage_days_users" USING btree ("day");--> statement-breakpoint
CREATE INDEX "usage_hours_hour" ON "usage_hours" USING btree ("hour");--> statement-breakpoint
CREATE INDEX "usage_hours_companies_hour" ON "usage_hours_companies" USING btree ("hour");--> statement-breakpoint
CREATE INDEX "usage_hours_summary_hour" ON "usage_hours_summary" USING btree ("hour");--> statement-breakpoint
CREATE INDEX "usage_hours_totals_hour" ON "usage_hours_totals" USING btree ("hour");--> statement-breakpoint
CREATE INDEX "usage_hours_users_hour" ON "usage_hours_users" USING btree ("hour");