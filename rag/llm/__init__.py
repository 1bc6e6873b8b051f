"""Chat models: one small protocol, a registry of backends chosen by name, and the prompts."""
