"""autoresearch plug-ins, registered in pyproject.toml: the `grid` proposer, the `restarts` search policy
and the `mycloud` LLM provider."""
