PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_flushes` (
	`shard` text NOT NULL,
	`start` integer NOT NULL,
	`seq` integer NOT NULL,
	`n` integer NOT NULL,
	`flushed_at` integer NOT NULL,
	PRIMARY KEY(`shard`, `start`, `seq`)
);
--> statement-breakpoint
-- edited: drizzle-kit selected the new column "seq" from the old table; existing flushes are each their shard's first (seq 0)
INSERT INTO `__new_flushes`("shard", "start", "seq", "n", "flushed_at") SELECT "shard", "start", 0, "n", "flushed_at" FROM `flushes`;--> statement-breakpoint
DROP TABLE `flushes`;--> statement-breakpoint
ALTER TABLE `__new_flushes` RENAME TO `flushes`;--> statement-breakpoint
PRAGMA foreign_keys=ON;