from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "stats"

    def ready(self):
        from campaigns.refusals import sold_out_refusals
        from stats.services import sold_out_refusals_add

        # The web tier counts its sold-out refusals in memory; the statistics keep them per day.
        sold_out_refusals.sink = sold_out_refusals_add
