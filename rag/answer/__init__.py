"""Answer composition: extractive (default), LLM (optional), and the abstention decision."""
