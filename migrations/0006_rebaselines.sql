CREATE TABLE `rebaselines` (
	`incident_id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`version` text NOT NULL,
	`from_window_start` integer NOT NULL,
	`requested_at` integer NOT NULL,
	`applied_at` integer,
	`adopted_from` integer,
	`adopted_to` integer,
	`adopted_predictions` integer
);
--> statement-breakpoint
CREATE INDEX `rebaselines_waiting` ON `rebaselines` (`model`,`version`,`applied_at`);