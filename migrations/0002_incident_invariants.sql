DROP INDEX `deliveries_incident`;--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_event` ON `deliveries` (`incident_id`,`channel`,`event`);--> statement-breakpoint
CREATE UNIQUE INDEX `incidents_active` ON `incidents` (`model`,`version`) WHERE status <> 'resolved';