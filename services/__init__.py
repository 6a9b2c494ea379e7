"""AgentList: a LangGraph Server built as a mesh of small services meeting on NATS."""

__version__ = "0.1.0"
