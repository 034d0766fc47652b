"""stackflow: self-hosted orchestration and durable workflows."""
