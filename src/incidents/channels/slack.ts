// Slack incoming webhook: `text` (the notification and fallback) and Block Kit blocks (a header, the model,
// version, verdict and top label shares as fields, the probable cause, a link to the status page; on a resolve with
// `{"rebaseline": true}`, that the traffic was declared the new normal). Model and label names are escaped for mrkdwn
// (&, <, >), so a label like "<!channel>" is shown, not executed.
import { percent, truncate } from '../../format';
import { headline, isAbsoluteUrl, labelShares, type Notice } from '../notice';

/** Slack's mrkdwn control characters, as Slack asks them to be escaped. */
export const escapeMrkdwn = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const ICON = { opened: ':rotating_light:', escalated: ':rotating_light:', resolved: ':white_check_mark:' } as const;
const TITLE = { opened: 'Incident opened', escalated: 'Incident escalated', resolved: 'Incident resolved' } as const;

/**
 * A resolve with `{"rebaseline": true}` in words: whoever reads the channel later must see that the traffic did not
 * come back but was declared normal, so that a later page about the old mix is no riddle.
 */
const NEW_NORMAL =
  '*New normal:* an operator declared the traffic this incident flagged the model’s new normal. labelwatch adopts it as the baseline before it judges the next window: traffic that stays there opens no new incident, traffic going back to the old mix may.';

/** Header text is plain text, at most 150 characters; section text at most 3000. */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;

export function slackPayload(n: Notice) {
  const i = n.incident;
  const shares = labelShares(n)
    .slice(0, 3)
    .map((s) => `${escapeMrkdwn(s.label)} ${percent(s.share)}`)
    .join(' · ');
  const verdict = n.event !== 'resolved' ? i.kind : n.resolvedWithRebaseline ? `resolved as the new normal (was ${i.kind})` : `resolved (was ${i.kind})`;
  const cause = i.diagnoses[0]?.sentence;
  const remedy = i.remedies[0]?.sentence;
  const link = isAbsoluteUrl(n.statusUrl) ? `<${n.statusUrl}|Incident page: ${escapeMrkdwn(i.model)} v${escapeMrkdwn(i.version)}>` : `Incident page: ${escapeMrkdwn(n.statusUrl)}`;
  const details = [
    n.event === 'resolved' ? null : escapeMrkdwn(i.latest.reason),
    n.event === 'resolved' && n.resolvedWithRebaseline ? NEW_NORMAL : null,
    cause ? `*Probable cause:* ${escapeMrkdwn(cause)}` : null,
    remedy ? `*What to do:* ${escapeMrkdwn(remedy)}` : null,
  ].filter((line): line is string => line !== null);
  return {
    text: `${ICON[n.event]} labelwatch: ${escapeMrkdwn(headline(n))}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: truncate(`${TITLE[n.event]}: ${i.model} v${i.version}`, HEADER_MAX), emoji: true } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Model*\n${escapeMrkdwn(i.model)}` },
          { type: 'mrkdwn', text: `*Version*\n${escapeMrkdwn(i.version)}` },
          { type: 'mrkdwn', text: `*Verdict*\n${verdict}` },
          { type: 'mrkdwn', text: `*Top labels*\n${shares || '–'}` },
        ],
      },
      ...(details.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: truncate(details.join('\n'), SECTION_MAX) } }] : []),
      { type: 'section', text: { type: 'mrkdwn', text: link } },
    ],
  };
}
