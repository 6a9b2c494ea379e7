"""Who is calling and what they may reach: the server's authentication mode (:mod:`.gate`),
LangGraph custom auth (:mod:`.custom`), built-in JWTs (:mod:`.tokens`) and API keys
(:mod:`.keys`), authorization filters (:mod:`.filters`) and the audit trail (:mod:`.audit`)."""


class AuthConfigError(ValueError):
    """The server's authentication settings cannot be used as written; it does not start."""
