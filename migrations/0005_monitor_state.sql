CREATE TABLE `monitor_states` (
	`model` text NOT NULL,
	`version` text NOT NULL,
	`last_window_start` integer NOT NULL,
	`state` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `version`)
);
--> statement-breakpoint
DROP INDEX `incidents_active`;--> statement-breakpoint
CREATE UNIQUE INDEX `incidents_model_defect` ON `incidents` (`model`,`version`) WHERE kind = 'model_defect';--> statement-breakpoint
CREATE UNIQUE INDEX `incidents_active` ON `incidents` (`model`,`version`) WHERE status <> 'resolved' AND kind <> 'model_defect';