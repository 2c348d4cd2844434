import factory

from campaigns.models import Campaign


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"campaign {n}")
    total_stock = 50
    remaining_stock = factory.SelfAttribute("total_stock")


def participation_request(campaign, user_id, *, offset=0, partition=0, topic="test", **fields):
    """A ParticipationRequest as the consumer would decode it from Kafka."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.messages import ParticipationRequest
    from campaigns.request_ids import new_request_id

    now = timezone.now()
    values = dict(request_id=new_request_id(), campaign_id=campaign.pk, user_id=user_id,
                  received_at=now, topic=topic, partition=partition, offset=offset,
                  broker_timestamp=now + timedelta(milliseconds=1))
    values.update(fields)
    return ParticipationRequest(**values)
