// The status page's errors as on-call meets them, from an alert's link at 3 a.m.: a browser gets a page in the status
// page's layout saying what happened and what to do next; every other client gets the API's `{"error": ...}` with
// the same status, headers and message as before, which scripts and tests read.
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import { jsonError, quotedName } from '../errors';
import { HISTORY_DAYS, MAX_HISTORY_DAYS } from './history';
import { Page, RangeNav, securityHeaders } from './layout';
import { RANGES, type RangeName } from './range';

/** One media range of an Accept header, lower-cased, with its weight. */
interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

// A weight as RFC 9110 writes it ("0.8", "1.000"), tolerating what clients send besides (".2", more than three
// decimals). Anything else is malformed.
const QVALUE = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * The media ranges of an Accept header (RFC 9110 §12.5.1), in order. A malformed range is skipped; a malformed or
 * out-of-range weight is ignored, as if the range had none (q = 1). Other parameters are dropped: a range is weighed
 * by its type and subtype alone, which is all that tells the page from the JSON. A quoted comma inside a parameter
 * splits a range, which at worst skips it: this never throws.
 */
function mediaRanges(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';');
    const name = /^\s*([^\s/]+)\/([^\s/]+)\s*$/.exec(range.toLowerCase());
    if (!name) continue;
    let q = 1;
    for (const param of params) {
      const eq = param.indexOf('=');
      const weight = param.slice(eq + 1).trim();
      if (eq > 0 && param.slice(0, eq).trim().toLowerCase() === 'q' && QVALUE.test(weight) && Number(weight) <= 1) q = Number(weight);
    }
    ranges.push({ type: name[1]!, subtype: name[2]!, q });
  }
  return ranges;
}

/** How specifically a range names type/subtype: 2 itself, 1 its type with any subtype, 0 anything; -1 not at all. */
const specificity = (r: MediaRange, type: string, subtype: string): number =>
  r.type === type ? (r.subtype === subtype ? 2 : r.subtype === '*' ? 1 : -1) : r.type === '*' && r.subtype === '*' ? 0 : -1;

/**
 * The weight the ranges give type/subtype: that of the most specific range matching it (the highest of equally
 * specific ones), so `text/html;q=0` refuses HTML whatever the catch-all says; 0, not acceptable, when none matches.
 */
function quality(ranges: readonly MediaRange[], type: string, subtype: string): number {
  let best = { specificity: -1, q: 0 };
  for (const r of ranges) {
    const s = specificity(r, type, subtype);
    if (s > best.specificity || (s === best.specificity && s >= 0 && r.q > best.q)) best = { specificity: s, q: r.q };
  }
  return best.q;
}

/**
 * Whether an error is answered with a page rather than the API's JSON: when the Accept header weighs text/html, the
 * page's type, strictly above application/json. Browsers list text/html at q = 1 over a weighted catch-all, so they
 * get the page; curl's bare catch-all weighs both alike, and no header weighs neither, so they keep the JSON, as do
 * clients that weigh application/json as high as text/html or higher. application/xhtml+xml does not count: the
 * page is sent as text/html, and a client ranking xhtml above JSON but text/html below it prefers the JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = mediaRanges(accept);
  return quality(ranges, 'text', 'html') > quality(ranges, 'application', 'json');
}

interface ErrorPage {
  title: string;
  body: Child;
  /** The page holds the token form, so it may submit to this origin. */
  form?: boolean;
}

function answer(c: Context, status: 400 | 401 | 404, error: string, page: ErrorPage, extra: Record<string, string> = {}) {
  // The same URL answers a page or JSON by the Accept header: a cache in between must key on it, or it could hand
  // a browser's HTML to an API client, or the reverse.
  const headers = { vary: 'Accept', ...extra };
  if (!prefersHtml(c.req.header('accept'))) return jsonError(c, status, error, headers);
  return c.html(
    <Page title={`${page.title} · labelwatch`}>
      <header class="top">
        <h1>
          labelwatch <span class="muted">status</span>
        </h1>
      </header>
      <section class="card problem" aria-labelledby="problem">
        <h2 id="problem">{page.title}</h2>
        {page.body}
      </section>
    </Page>,
    status,
    { ...securityHeaders(page.form ? 'self' : 'none'), ...headers },
  );
}

/** What the query asked for, quoted as a client-chosen value is (the address bar is the client's). */
const asked = (c: Context, name: string) => quotedName(c.req.query(name) ?? '');

/**
 * 401. The browser's page is a plain GET form back to the same path, keeping the other query parameters: submitting
 * it is the `?token=` that access.ts trades for a cookie and a redirect without the token. `rejected`: a token was
 * offered that way and was wrong; the person who typed it learns only that.
 */
export function tokenRequired(c: Context, rejected: boolean) {
  const url = new URL(c.req.url);
  const kept = [...url.searchParams].filter(([name]) => name !== 'token');
  const headers = { 'www-authenticate': 'Bearer realm="labelwatch status"', 'cache-control': 'no-store' };
  return answer(
    c,
    401,
    'authorization: a valid status token is required',
    {
      title: 'This status page needs its token',
      form: true,
      body: (
        <>
          {rejected ? (
            <p class="banner bad" role="alert">
              That token was not accepted.
            </p>
          ) : null}
          <form method="get" action={url.pathname}>
            {kept.map(([name, value]) => (
              <input type="hidden" name={name} value={value} />
            ))}
            <label for="token">Status token</label>
            <input type="password" id="token" name="token" required autofocus autocomplete="current-password" />
            <button type="submit">Open the page</button>
          </form>
          <p class="muted">
            It is the deployment’s <code>STATUS_TOKEN</code> secret. This browser then keeps a cookie for the status page;
            the token does not stay in the address bar.
          </p>
        </>
      ),
    },
    headers,
  );
}

const Overview = () => <a href="/">the overview</a>;

/** 404 for `/incidents/{id}`: a mistyped or cut link, one from another deployment, or a database that was reset. */
export const incidentNotFound = (c: Context, id: string) =>
  answer(c, 404, `incident: ${quotedName(id)} not found`, {
    title: 'No such incident',
    body: (
      <>
        <p>
          There is no incident {quotedName(id)} here. The link may be mistyped or cut short, come from another labelwatch
          deployment, or date from before this deployment’s database was reset.
        </p>
        <p>
          Open incidents and those resolved in the last {HISTORY_DAYS} days are listed on <Overview /> (
          <a href={`/?history=${MAX_HISTORY_DAYS}`}>the last {MAX_HISTORY_DAYS} days</a>).
        </p>
      </>
    ),
  });

const LONGEST = Object.keys(RANGES).at(-1) as RangeName;

/** 404 for `/models/{name}`: not served, and no stored windows in the range (an old version may have some further back). */
export const modelNotFound = (c: Context, name: string, range: RangeName) =>
  answer(c, 404, `model ${quotedName(name)} is not served and has no windows in the last ${range}`, {
    title: 'No such model',
    body: (
      <>
        <p>
          No model {quotedName(name)} is served here, and none by that name has windows in the last {range}.
        </p>
        <p>
          Every served model and the open incidents are on <Overview />
          {range === LONGEST ? null : (
            <>
              ; a version no longer served may have windows in <a href={`/models/${encodeURIComponent(name)}?range=${LONGEST}`}>the last {LONGEST}</a>
            </>
          )}
          .
        </p>
      </>
    ),
  });

/** 400 for `?range=`: the accepted ranges, each a link to this page. */
export const badRange = (c: Context) =>
  answer(c, 400, `range: expected one of ${Object.keys(RANGES).join(', ')}`, {
    title: 'Unknown time range',
    body: (
      <>
        <p>
          The range {asked(c, 'range')} is not one this page shows. It shows the last:
        </p>
        <RangeNav path={c.req.path} />
      </>
    ),
  });

/** 400 for `?history=`: what is accepted, and a few spans as links to this page. */
export const badHistory = (c: Context) =>
  answer(c, 400, `history: expected a whole number of days from 1 to ${MAX_HISTORY_DAYS}`, {
    title: 'Unknown history span',
    body: (
      <>
        <p>
          Resolved incidents are listed for a whole number of days from 1 to {MAX_HISTORY_DAYS} (default {HISTORY_DAYS});{' '}
          {asked(c, 'history')} is not one. Show those resolved in the last:
        </p>
        <nav class="ranges" aria-label="history">
          {[1, HISTORY_DAYS, 30, MAX_HISTORY_DAYS].map((days) => (
            <a href={`${c.req.path}?history=${days}`}>{days === 1 ? '1 day' : `${days} days`}</a>
          ))}
        </nav>
      </>
    ),
  });
