"""contract-check: the CI step that blocks pull requests whose contract changes break consumers."""
