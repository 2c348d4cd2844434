"""A child process that publishes participations exactly as a gunicorn worker does: one
publish() per request from 8 threads, each waiting for its ack. Several of them side by side
reproduce the API's stream (one producer per worker process) without HTTP.

    python -m testsupport.burst_publisher CAMPAIGN_ID USER_PREFIX COUNT OUT_FILE

OUT_FILE gets one "request_id user_id" line per acknowledged request (a 202), and
"- user_id" for one that was not (a 503)."""
import sys
from concurrent.futures import ThreadPoolExecutor

import django


def main(campaign_id, prefix, count, out):
    from django.conf import settings
    from django.utils import timezone

    from campaigns.messages import encode_participation, message_key
    from campaigns.request_ids import new_request_id
    from streaming.producer import PublishError, publish

    def send(i):
        request_id, user_id = new_request_id(), f"{prefix}{i}"
        try:
            publish(settings.FIRSTCOME_TOPIC, encode_participation(request_id, campaign_id, user_id, timezone.now()),
                    key=message_key(campaign_id, user_id, settings.FIRSTCOME_MESSAGE_KEY))
        except PublishError:
            return f"- {user_id}"
        return f"{request_id} {user_id}"

    with ThreadPoolExecutor(8) as pool:
        lines = list(pool.map(send, range(count)))
    with open(out, "w") as file:
        file.write("\n".join(lines))


if __name__ == "__main__":
    django.setup()
    main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4])
