DROP INDEX `deliveries_event`;--> statement-breakpoint
-- Existing rows take escalation_window 0. They were unique on (incident_id, channel, event), so they stay unique with
-- it; an incident's later escalations are keyed by their window's start, never 0.
ALTER TABLE `deliveries` ADD `escalation_window` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_event` ON `deliveries` (`incident_id`,`channel`,`event`,`escalation_window`);