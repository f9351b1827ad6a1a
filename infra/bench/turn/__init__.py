"""A chat turn: its server-side cost, the agent and its tools, long conversations, a slow link to the database,
recovery from crashes and outages, and the web server under it."""
