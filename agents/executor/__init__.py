"""The tool executor: simulates a tool's HTTP API from its OpenAPI spec, one session per instance."""
