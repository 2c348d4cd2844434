// Shared by burst.js and bulk.js: the request each mode sends, what is counted, the summary.
//   MODE=kafka (default)          POST /participations                 → 202, decided later by the consumer,
//                                 or 409 sold_out once the web tier knows the stock is gone (a final answer)
//   MODE=naive|atomic|locked      POST /lab/…/participations-sync?strategy=… → 200 with the outcome (no Kafka;
//                                 the server needs the lab app and FIRSTCOME_EXPERIMENT_ENDPOINTS=1)
import http from 'k6/http';
import { check } from 'k6';
import encoding from 'k6/encoding';
import { Counter } from 'k6/metrics';
import { SharedArray } from 'k6/data';

export const MODES = ['kafka', 'naive', 'atomic', 'locked'];
export const MODE = (__ENV.MODE || 'kafka').toLowerCase();
if (!MODES.includes(MODE)) throw new Error(`MODE must be one of ${MODES.join(', ')}, not '${__ENV.MODE}'`);

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
export const USER_PREFIX = __ENV.USER_PREFIX || 'user';
// TOKENS_FILE: a JSON array whose k-th entry is the token of user k (`${USER_PREFIX}-${k}`, or the
// original contract's FIRST_USER_ID + k), minted by lab.stack.run_k6 from the development issuer
// (or by `manage.py issue_token`). Without one, requests carry no credential (a body-mode server).
const TOKENS = __ENV.TOKENS_FILE ? new SharedArray('tokens', () => JSON.parse(open(__ENV.TOKENS_FILE))) : null;
export function credential(k) {
  if (!TOKENS) return {};
  if (k >= TOKENS.length) throw new Error(`TOKENS_FILE holds ${TOKENS.length} tokens, none for user ${k}`);
  return { Authorization: `Bearer ${TOKENS[k]}` };
}

// The report reads p50/p95/p99 of http_req_duration from the JSON summary.
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];

const OUTCOMES = ['SUCCESS', 'SOLD_OUT', 'DUPLICATE'];
const accepted = new Counter('accepted');  // kafka: 202, the broker holds the request
const soldOutAtDoor = new Counter('sold_out_at_door');  // kafka: 409 sold_out, nothing was queued
const answered = {                         // sync modes: the outcome in the 200
  SUCCESS: new Counter('answered_success'),
  SOLD_OUT: new Counter('answered_sold_out'),
  DUPLICATE: new Counter('answered_duplicate'),
};
const byStatusClass = { 2: new Counter('http_2xx'), 3: new Counter('http_3xx'), 4: new Counter('http_4xx'),
  5: new Counter('http_5xx') };
const noAnswer = new Counter('http_no_answer');  // connection refused/reset, timeout

const url = (campaignId) => (MODE === 'kafka'
  ? `${BASE_URL}/api/campaigns/${campaignId}/participations`
  : `${BASE_URL}/lab/campaigns/${campaignId}/participations-sync?strategy=${MODE}`);

// User k (`${USER_PREFIX}-${k}`) asks for a coupon, with their token when TOKENS_FILE has one.
export function participate(campaignId, k) {
  const res = http.post(url(campaignId), JSON.stringify({ user_id: `${USER_PREFIX}-${k}` }),
    { headers: { 'Content-Type': 'application/json', ...credential(k) }, tags: { name: `participate ${MODE}` } });
  if (res.status === 0) noAnswer.add(1);
  else byStatusClass[Math.floor(res.status / 100)].add(1);
  if (MODE === 'kafka') {
    const refused = res.status === 409 && res.json('code') === 'sold_out';
    if (res.status === 202) accepted.add(1);
    if (refused) soldOutAtDoor.add(1);
    check(res, {
      'accepted with 202 or sold out at the door': (r) => r.status === 202 || refused,
      'a 202 has a request id': (r) => r.status !== 202 || !!r.json('request_id'),
    });
  } else {
    const outcome = res.status === 200 ? res.json('status') : null;
    if (answered[outcome]) answered[outcome].add(1);
    check(res, { 'answered 200 with an outcome': () => OUTCOMES.includes(outcome) });
  }
  return res;
}

// Without CAMPAIGN_ID: create one through the admin API (ADMIN_USER/ADMIN_PASSWORD, HTTP Basic).
export function campaignFromEnv(stock) {
  if (__ENV.CAMPAIGN_ID) return { campaignId: __ENV.CAMPAIGN_ID };
  const auth = encoding.b64encode(`${__ENV.ADMIN_USER || 'admin'}:${__ENV.ADMIN_PASSWORD || 'admin'}`);
  const res = http.post(`${BASE_URL}/api/admin/campaigns`,
    JSON.stringify({ name: `k6 ${MODE} ${new Date().toISOString()}`, total_stock: stock }),
    { headers: { 'Content-Type': 'application/json', Authorization: `Basic ${auth}` } });
  if (res.status !== 201) throw new Error(`campaign creation failed: ${res.status} ${res.body}`);
  return { campaignId: res.json('id') };
}

const count = (data, name) => (data.metrics[name] ? data.metrics[name].values.count : 0);

// One line on stdout; with SUMMARY=path, k6's JSON summary is written there.
export function summarize(script, data) {
  const checks = data.metrics.checks ? data.metrics.checks.values : { passes: 0, fails: 0 };
  const dur = data.metrics.http_req_duration ? data.metrics.http_req_duration.values : {};
  const answers = MODE === 'kafka'
    ? `${count(data, 'accepted')} accepted (202), ${count(data, 'sold_out_at_door')} sold out at the door (409)`
    : `${count(data, 'answered_success')} SUCCESS / ${count(data, 'answered_sold_out')} SOLD_OUT / ` +
      `${count(data, 'answered_duplicate')} DUPLICATE (200)`;
  const out = {
    stdout: `${script} ${MODE}: ${count(data, 'http_reqs')} requests, ${answers}, ` +
      `checks ${checks.passes} passed / ${checks.fails} failed, p95 ${(dur['p(95)'] || 0).toFixed(1)} ms\n`,
  };
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data, null, 2);
  return out;
}
