"""Who a request is: a participant's verified JWT (tokens, keys), the development issuer that
mints them on a developer machine (dev_issuer), and their DRF authentication (drf).
docs/guarantees.md, "Who may do what", is the trust model."""
