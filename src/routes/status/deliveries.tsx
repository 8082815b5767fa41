// Recent webhook deliveries and where each stands. Never the payload, URL or secret: channel, event, state, attempts,
// and the last answer (with any URL in an error text blanked).
import type { FC } from 'hono/jsx';
import type { DeliveryView } from '../../db/status';
import { ago, clock, redactUrls } from '../../format';

/** A glyph and a word for every state, so the state never rests on colour. */
const STATE: Record<string, { glyph: string; words: string }> = {
  delivered: { glyph: '✓', words: 'delivered' },
  retrying: { glyph: '↻', words: 'retrying' },
  pending: { glyph: '…', words: 'pending' },
  dead: { glyph: '✕', words: 'dead' },
};

function lastAnswer(d: DeliveryView): string {
  const parts = [];
  if (d.lastStatusCode !== null) parts.push(`HTTP ${d.lastStatusCode}`);
  if (d.lastError) parts.push(redactUrls(d.lastError).slice(0, 140));
  return parts.join(' · ') || '–';
}

export const Deliveries: FC<{ deliveries: DeliveryView[]; nowSeconds: number }> = ({ deliveries, nowSeconds }) =>
  deliveries.length === 0 ? (
    <p class="muted">No webhook deliveries yet.</p>
  ) : (
    <div class="table-scroll">
      <table class="deliveries">
        <thead>
          <tr>
            <th scope="col">when</th>
            <th scope="col">state</th>
            <th scope="col">channel · event</th>
            <th scope="col">model</th>
            <th scope="col">tries</th>
            <th scope="col">last answer</th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((d) => {
            const state = STATE[d.status] ?? { glyph: '•', words: d.status };
            const created = d.createdAt;
            return (
              <tr data-status={d.status}>
                <td class="when" title={`${clock(created, true)} UTC`}>
                  {ago(created, nowSeconds)}
                </td>
                <td class="state-cell">
                  <span class={`state s-${d.status}`}>
                    <span aria-hidden="true">{state.glyph}</span> {state.words}
                  </span>
                  {d.status === 'retrying' && d.nextAttemptAt !== null ? (
                    <span class="muted small"> next {clock(d.nextAttemptAt)}</span>
                  ) : null}
                </td>
                <td class="channel">
                  {d.channel} · <span class="muted">{d.event}</span>
                </td>
                <td class="model">{d.model === null ? '–' : `${d.model} v${d.version}`}</td>
                <td class="num tries">{d.attempts}</td>
                <td class="answer">{lastAnswer(d)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
