"""The original system's HTTP contract (the Spring Boot service firstcome re-implements), as thin
views over the same services: its paths, its camelCase fields, its answer envelope
{"success", "message", "errorCode", "data"} and its 200s. docs/api.md sets it beside the native
API and says where firstcome deliberately differs."""
