"""Load scenarios against AgentList and the reference ``langgraph dev`` server: see run.py."""
