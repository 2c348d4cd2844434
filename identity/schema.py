"""The participant's token in the OpenAPI document: a bearer JWT (or the configured header)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ParticipantTokenScheme(OpenApiAuthenticationExtension):
    target_class = "identity.drf.ParticipantAuthentication"
    name = "participantToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A participant's JWT (RS256/ES256) from the identity provider; its user claim is "
                               "the user. Behind an ALB the same token arrives in the configured header instead."}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "identity.drf.ApiTokenAuthentication"
    name = "staffApiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "A staff API client's token: `Token fct_<prefix>_<secret>` (made in the admin)."}
