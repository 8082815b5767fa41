// The model page's lower half: its recent flagged windows with the detector's reasons, and how it was trained.
import type { FC } from 'hono/jsx';
import type { WindowFindings } from '../../db/status';
import type { Diagnosis } from '../../monitor/diagnosis';
import type { ModelMetadata } from '../../serving/metadata';
import { colourOf } from './chart';
import { diagnosisTitle, findingsOf } from './findings';
import { clock, percent } from '../../format';
import { VerdictPill } from './layout';

export const FlaggedList: FC<{ windows: WindowFindings[]; long: boolean }> = ({ windows, long }) =>
  windows.length === 0 ? (
    <p class="muted">No flagged windows in this range.</p>
  ) : (
    <ul class="findings">
      {windows.map((w) => {
        const reason = (w.evaluation as { reason?: unknown } | null)?.reason;
        const diagnoses = findingsOf<Diagnosis>(w.diagnoses);
        return (
          <li>
            <strong>{clock(w.start, long)} UTC</strong> <VerdictPill verdict={w.verdict} /> <span class="muted">n={w.n}</span>
            {typeof reason === 'string' ? <p>{reason}</p> : null}
            {diagnoses.length > 0 ? (
              <p class="muted">
                Probable cause: {diagnoses.map((d) => `${diagnosisTitle(d)} (${Math.round(d.confidence * 100)}%)`).join(', ')}
              </p>
            ) : null}
          </li>
        );
      })}
    </ul>
  );

export const Training: FC<{ metadata: ModelMetadata }> = ({ metadata }) => {
  const t = metadata.training;
  return (
    <>
      <h2>Training · v{metadata.version}</h2>
      <div class="card">
        <p>
          {t.samples} rows{t.dataset ? ` of ${t.dataset}` : ''}
          {t.accuracy !== undefined ? `, held-out accuracy ${percent(t.accuracy)}` : ''}
          {t.standardized !== undefined ? `, ${t.standardized ? 'standardized' : 'raw (unstandardized)'} inputs` : ''}
          {t.class_weight ? ', class weights used' : ''}.
        </p>
        <ul class="legend">
          {metadata.labels.map((label, i) => (
            <li>
              <span class="swatch" style={`background:${colourOf(i)}`} />
              <span>
                {label} <span class="muted">{t.label_counts[label] ?? 0} rows</span>
              </span>
            </li>
          ))}
        </ul>
      </div>
    </>
  );
};

