CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`incident_id` text NOT NULL,
	`channel` text NOT NULL,
	`event` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_status_code` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`next_attempt_at` integer,
	`enqueued_at` integer,
	`delivered_at` integer
);
--> statement-breakpoint
CREATE INDEX `deliveries_incident` ON `deliveries` (`incident_id`);--> statement-breakpoint
CREATE INDEX `deliveries_status` ON `deliveries` (`status`,`enqueued_at`);--> statement-breakpoint
CREATE TABLE `flushes` (
	`shard` text NOT NULL,
	`start` integer NOT NULL,
	`n` integer NOT NULL,
	`flushed_at` integer NOT NULL,
	PRIMARY KEY(`shard`, `start`)
);
--> statement-breakpoint
CREATE TABLE `incidents` (
	`id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`version` text NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`first_window_start` integer NOT NULL,
	`last_window_start` integer NOT NULL,
	`flagged_windows` integer NOT NULL,
	`healthy_streak` integer DEFAULT 0 NOT NULL,
	`opened_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`acknowledged_at` integer,
	`resolved_at` integer,
	`resolved_by` text,
	`state` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `incidents_model` ON `incidents` (`model`,`version`,`status`);--> statement-breakpoint
CREATE INDEX `incidents_status` ON `incidents` (`status`);--> statement-breakpoint
CREATE TABLE `window_features` (
	`model` text NOT NULL,
	`version` text NOT NULL,
	`start` integer NOT NULL,
	`feature` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`sum` real DEFAULT 0 NOT NULL,
	`sum_sq` real DEFAULT 0 NOT NULL,
	`min` real,
	`max` real,
	`zeros` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`model`, `version`, `start`, `feature`)
);
--> statement-breakpoint
CREATE TABLE `window_labels` (
	`model` text NOT NULL,
	`version` text NOT NULL,
	`start` integer NOT NULL,
	`label` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`model`, `version`, `start`, `label`)
);
--> statement-breakpoint
CREATE TABLE `windows` (
	`model` text NOT NULL,
	`version` text NOT NULL,
	`start` integer NOT NULL,
	`length` integer NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	`sum_confidence` real DEFAULT 0 NOT NULL,
	`sum_entropy` real DEFAULT 0 NOT NULL,
	`zero_rows` integer DEFAULT 0 NOT NULL,
	`closed` integer DEFAULT false NOT NULL,
	`closed_at` integer,
	`verdict` text,
	`evaluation` text,
	`diagnoses` text,
	`remedies` text,
	PRIMARY KEY(`model`, `version`, `start`)
);
--> statement-breakpoint
CREATE INDEX `windows_start` ON `windows` (`start`);--> statement-breakpoint
CREATE INDEX `windows_open` ON `windows` (`closed`,`start`);