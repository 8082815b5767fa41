// `npm run demo -- --quick` end to end, as a user runs it: a child process that starts its own wrangler dev and
// receiver, tells the story and cleans up. Asserts the exit status, the key lines of the story, and that nothing is
// left behind (state directory, port).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
/** Not the demo's default (8811), so a demo a developer is running does not collide with the test. */
const PORT = 8813;

let child: ChildProcess | undefined;
/** Everything the demo printed so far: shown when it fails or has to be stopped. */
let output = '';

afterAll(async () => {
  // Only if the test timed out: the first SIGTERM lets the demo stop its wrangler and remove its state; a second
  // one makes it exit at once (its exit hook still kills wrangler's process group); SIGKILL if even that hangs.
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  console.log(`the demo did not finish; its output so far:\n${output}`);
  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child.kill('SIGTERM');
  const again = setTimeout(() => child!.kill('SIGTERM'), 15_000);
  const kill = setTimeout(() => child!.kill('SIGKILL'), 25_000);
  await exited;
  clearTimeout(again);
  clearTimeout(kill);
});

function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

describe('npm run demo -- --quick', () => {
  it('tells the whole story: collapse, incident, signed webhooks with remedies, recovery; then cleans up', async () => {
    const { code, output } = await runDemo(['--quick', '--port', String(PORT)]);
    if (code !== 0) console.log(output); // the narrative names the step that did not happen
    expect(code).toBe(0);

    // healthy traffic, then the unscaled inputs collapse onto one label
    expect(output).toMatch(/→ HEALTHY/);
    expect(output).toMatch(/→ COLLAPSED/);
    expect(output).toMatch(/✓ incident inc_[0-9A-Z]{26} opened: collapsed/);

    // on-call paged over every channel, the signed webhooks verified
    expect(output).toMatch(/← alert webhook: incident\.opened, penguins v1 collapsed \(signature verified/);
    expect(output).toMatch(/← PagerDuty: trigger, severity critical/);
    expect(output).toMatch(/← Slack: "Incident opened: penguins v1"/);

    // the retraining request, verified, with its diagnosis and the scaler to apply (the training units' mean/std)
    expect(output).toMatch(/← retraining webhook: retrain\.requested, penguins v1 collapsed \(signature verified/);
    expect(output).toMatch(/scaler_missing \(confidence/);
    expect(output).toMatch(/scaler: standardize inputs before predicting/);
    expect(output).toMatch(/body_mass_g\s+mean\s+4195\s+std\s+825\.8/);

    // recovery
    expect(output).toMatch(/✓ incident inc_[0-9A-Z]{26} resolved by the monitor after 2 healthy windows/);
    expect(output).toMatch(/← alert webhook: incident\.resolved/);
    expect(output).toMatch(/← PagerDuty: resolve/);
    expect(output).toMatch(/← Slack: "Incident resolved: penguins v1"/);
    expect(output).toMatch(/✓ demo complete in/);
    expect(output).not.toMatch(/✗/);

    // nothing left behind
    const stateDir = output.match(/removed (\S+)/)?.[1];
    expect(stateDir).toBeDefined();
    expect(existsSync(stateDir!)).toBe(false);
    expect(await portIsFree(PORT)).toBe(true);
  }, 300_000);
});
