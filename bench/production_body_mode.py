"""The production settings with the original's trust in the body (FIRSTCOME_IDENTITY=body),
which they refuse: bench.identity's baseline only, never a deployment."""
import os

os.environ["FIRSTCOME_IDENTITY"] = "jwt"  # past production's refusal, then the baseline's mode
from campaign_site.settings.production import *  # noqa: E402,F401,F403

FIRSTCOME_IDENTITY = "body"
