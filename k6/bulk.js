// N requests as fast as VUS virtual users can send them (each sends its next one as soon as its
// previous one is answered), spread over USERS distinct users (default N: one request each).
//   .venv/bin/k6 run -e CAMPAIGN_ID=1 -e N=2000 -e VUS=200 -e MODE=locked k6/bulk.js
// With USERS < N a user's requests are consecutive, so they race each other (DUPLICATEs).
// With DURATION (e.g. 15s) the VUs send for that long instead, every request from a new user.
// MODE, CAMPAIGN_ID, STOCK, SUMMARY: as in burst.js.
import exec from 'k6/execution';
import { SUMMARY_TREND_STATS, campaignFromEnv, participate, summarize } from './common.js';

const N = parseInt(__ENV.N || '1000', 10);
const VUS = Math.min(parseInt(__ENV.VUS || '50', 10), N);
const USERS = Math.min(parseInt(__ENV.USERS || String(N), 10), N);
const STOCK = parseInt(__ENV.STOCK || '50', 10);

const DURATION = __ENV.DURATION;

export const options = {
  scenarios: {
    bulk: DURATION
      ? { executor: 'constant-vus', vus: parseInt(__ENV.VUS || '50', 10), duration: DURATION }
      : { executor: 'shared-iterations', vus: VUS, iterations: N, maxDuration: __ENV.MAX_DURATION || '5m' },
  },
  thresholds: { checks: ['rate==1'] },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  return campaignFromEnv(STOCK);
}

export default function (data) {
  const user = DURATION ? exec.scenario.iterationInTest + 1
    : Math.floor((exec.scenario.iterationInTest * USERS) / N) + 1;
  participate(data.campaignId, user);
}

export function handleSummary(data) {
  return summarize('bulk', data);
}
