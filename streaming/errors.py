"""Errors every layer may raise about a Kafka record, with no dependency on the consumer loop:
message codecs (campaigns.messages) raise them, the loop (streaming.worker) acts on them."""


class PoisonMessage(Exception):
    """A record that can never be processed; it goes to the dead-letter topic with this reason."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason
