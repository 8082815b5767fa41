// The migrations on a database that lived before them: D1 in Miniflare, migrated file by file as `wrangler d1
// migrations apply` does, with rows written by the schema of the time in between. A migration must take every row it
// finds: a deployment's outbox is never empty for long.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const MIGRATIONS = readdirSync(join(ROOT, 'migrations'))
  .filter((f) => f.endsWith('.sql'))
  .sort();

let mf: Miniflare;
let db: D1Database;

async function migrate(file: string): Promise<void> {
  for (const statement of readFileSync(join(ROOT, 'migrations', file), 'utf8').split('--> statement-breakpoint'))
    if (statement.trim()) await db.prepare(statement).run();
}

beforeAll(async () => {
  mf = new Miniflare({ modules: true, script: 'export default { fetch: () => new Response(null, { status: 204 }) }', d1Databases: { DB: 'migrations' } });
  db = (await mf.getD1Database('DB')) as unknown as D1Database;
});

afterAll(async () => {
  await mf?.dispose();
});

describe('0007_escalation_window', () => {
  const insert = (id: string, incident: string, channel: string, event: string, window?: number) =>
    window === undefined
      ? db
          .prepare("INSERT INTO deliveries (id, incident_id, channel, event, payload, status, created_at) VALUES (?, ?, ?, ?, '{}', 'delivered', 1)")
          .bind(id, incident, channel, event)
      : db
          .prepare("INSERT INTO deliveries (id, incident_id, channel, event, escalation_window, payload, status, created_at) VALUES (?, ?, ?, ?, ?, '{}', 'pending', 2)")
          .bind(id, incident, channel, event, window);

  it('keeps the outbox written before it, and lets an incident that escalated then escalate again, once per window', async () => {
    const index = MIGRATIONS.indexOf('0007_escalation_window.sql');
    expect(index).toBe(7);
    for (const file of MIGRATIONS.slice(0, index)) await migrate(file);
    // Before: a whole incident (opened, escalated, acknowledged, resolved) and one that escalated and is still open.
    const paging = ['alert', 'pagerduty', 'slack'];
    const before = [
      ...paging.flatMap((c) => ['incident.opened', 'incident.updated', 'incident.resolved'].map((e) => ['inc_done', c, e])),
      ['inc_done', 'retrain', 'retrain.requested'],
      ['inc_done', 'pagerduty', 'incident.acknowledged'],
      ...paging.flatMap((c) => ['incident.opened', 'incident.updated'].map((e) => ['inc_open', c, e])),
      ['inc_open', 'retrain', 'retrain.requested'],
    ];
    await db.batch(before.map(([incident, channel, event], k) => insert(`msg_${k}`, incident, channel, event)));

    await migrate(MIGRATIONS[index]);
    const rows = await db.prepare('SELECT incident_id, channel, event, escalation_window FROM deliveries ORDER BY id').all();
    expect(rows.results).toHaveLength(before.length);
    expect(rows.results.every((r) => r.escalation_window === 0)).toBe(true);
    const columns = await db.prepare("SELECT name FROM pragma_index_info('deliveries_event') ORDER BY seqno").all<{ name: string }>();
    expect(columns.results.map((c) => c.name)).toEqual(['incident_id', 'channel', 'event', 'escalation_window']);

    // The open incident escalates again (window 1800): a row per channel, beside the one from before the migration.
    const start = 1800;
    await db.batch(paging.map((c) => insert(`msg_new_${c}`, 'inc_open', c, 'incident.updated', start)));
    // The same escalation again (a replayed or racing tick), or a second opening: refused, as before.
    await expect(insert('msg_again', 'inc_open', 'pagerduty', 'incident.updated', start).run()).rejects.toThrow(/UNIQUE constraint failed/);
    await expect(insert('msg_reopen', 'inc_open', 'pagerduty', 'incident.opened').run()).rejects.toThrow(/UNIQUE constraint failed/);
    const updates = await db.prepare("SELECT escalation_window FROM deliveries WHERE incident_id = 'inc_open' AND channel = 'pagerduty' AND event = 'incident.updated' ORDER BY id").all();
    expect(updates.results.map((r) => r.escalation_window)).toEqual([0, start]);
  });
});
